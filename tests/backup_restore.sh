#!/usr/bin/env bash
# backup_restore.sh -- hot copies taken while syncing restore to nodes that
# sync on (real server and stores on 127.0.0.1).
#
#  1. A store's backup (`jipan-store backup`) taken while it pushes a large
#     backlog; the store works on and syncs; it is then restored from the
#     backup (older than what the server holds): one sync brings its own
#     lost changes back from the server, its chain verifies, it equals the
#     server, and it syncs on with new edits.
#  2. The server's backup (`jipan-server backup`) taken while stores push;
#     the server is restored from it: the stores push again what it lost,
#     pull again what they need, and every node ends equal.
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"

check setup
jp_group backup 21000
# Every store holds the whole group log, so its digest is the server's.
printf '[sharing]\nrule = group\n' >>"$T/server.conf"
"$B/tools/jipan-gen" --out "$T/gen" --stores 2 --customers 2500 --seed 9 >/dev/null
jp_gen_stores "$T/gen"
jp_server_start

check "a store's backup taken while it pushes"
S st1 sync -q --server "tcp://127.0.0.1:$PORT" --server-key "$KEY" &
sync_pid=$!
sleep 0.3
S st1 backup "$T/st1-backup" >/dev/null || fail "backup during a sync failed"
wait "$sync_pid" || fail "the sync during the backup failed"
[ -f "$T/st1-backup/data.mdb" ] || fail "no data.mdb in the backup"
S st2 sync -q --server "tcp://127.0.0.1:$PORT" --server-key "$KEY"
# The store works on after the backup: edits, synced.
S st1 add customer --name 备份后 --phone 13800001111 >/dev/null
S st1 add customer --name 备份后二 --phone 13800002222 >/dev/null
S st1 sync -q
after=$(seq_of st1)
[ "$(server_seq 1)" -eq "$after" ] || fail "the server holds $(server_seq 1), the store $after"

check "restore the store from the backup: it gets its own lost changes back"
cp "$T/st1-backup/data.mdb" "$T/st1/data.mdb"
restored=$(seq_of st1)
[ "$restored" -lt "$after" ] || fail "the backup is not older than the store ($restored >= $after)"
S st1 sync >"$T/out"
grep -q "restored from a backup" "$T/out" || { cat "$T/out" >&2; fail "the restore was not recognised"; }
[ "$(seq_of st1)" -eq "$after" ] || fail "after the sync the store has seq $(seq_of st1), wanted $after"
S st1 verify >/dev/null || fail "the restored store's chain does not verify"
S st2 sync -q
[ "$(S st1 digest)" = "$(server_digest)" ] || fail "the restored store differs from the server"
S st1 add customer --name 恢复后 --phone 13800003333 >/dev/null
S st1 sync >"$T/out"
grep -q "pushed 1 " "$T/out" || { cat "$T/out" >&2; fail "the restored store does not sync on"; }
[ "$(server_seq 1)" -eq $((after + 1)) ] || fail "the server did not take the new edit"

check "the server's backup taken while stores push, then restored"
"$B/tools/jipan-gen" --out "$T/gen2" --stores 1 --customers 1500 --seed 10 >/dev/null
S st2 import --customers "$T/gen2/HZ01/customers.csv" --vehicles "$T/gen2/HZ01/vehicles.csv" \
    --events "$T/gen2/HZ01/events.csv" >/dev/null
S st2 sync -q &
sync_pid=$!
sleep 0.3
SV backup "$T/srv-backup" >/dev/null || fail "the server's hot copy failed"
wait "$sync_pid" || fail "the sync during the server backup failed"
S st1 add customer --name 服务器备份后 --phone 13800004444 >/dev/null
S st1 sync -q
S st2 sync -q
jp_server_stop
cp "$T/srv-backup/data.mdb" "$T/srv/data.mdb"
jp_server_start
for st in st1 st2 st1 st2; do S "$st" sync -q || fail "$st does not sync with the restored server"; done
d=$(server_digest)
[ "$(S st1 digest)" = "$d" ] && [ "$(S st2 digest)" = "$d" ] || fail "after the server's restore the nodes differ"
[ "$(server_seq 1)" -eq "$(seq_of st1)" ] && [ "$(server_seq 2)" -eq "$(seq_of st2)" ] ||
    fail "the restored server does not hold every store's log"
for st in st1 st2; do S "$st" verify >/dev/null || fail "$st does not verify"; done
echo "backup_restore: ok"
