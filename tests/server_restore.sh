#!/usr/bin/env bash
# server_restore.sh -- a server restored from a backup takes back from the
# stores the links it made after the backup, so that the stores sync on
# with no chain fault (server/recover.h, PROTOCOL.md RETURN).
#
#  1. Three stores sync; the server's backup; then walk-ins at two stores
#     with the phones of a first store's owners: the server links them
#     (its own changes, store 0) and the stores pull the links.
#  2. The server's machine is lost: `jipan-server restore` from the
#     backup; `status` says recovering and which stores have not synced.
#  3. Each store syncs (the server killed -9 and restarted halfway): no
#     chain fault; once all have, the server holds
#     every link it had made, with the same bytes (the digests agree with
#     the stores', the links counted as before), and is recovering no more.
#  4. It links again: a new walk-in is linked and reaches every store.
#
# Under rule group (every store holds the server's whole log) and under
# rule linked (each holds the links of its own rows: the server's log
# comes back in parts, out of order, from several stores).
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"

rule=${1:-group}
if [ "$rule" = group ]; then # the other rule in a process of its own
    bash "$0" linked || exit 1
fi
check "setup ($rule)"
jp_group restore 23000
[ "$rule" = linked ] && PORT=$((PORT + 500)) && jp_conf
printf '[sharing]\nrule = %s\n' "$rule" >>"$T/server.conf"
"$B/tools/jipan-gen" --out "$T/gen" --stores 3 --customers 400 --seed 31 >/dev/null
jp_gen_stores "$T/gen"
jp_server_start
jp_first_sync st1 st2 st3
S st1 sync -q
links() { SV status | awk '/^records/ {print $(NF - 1)}'; }
# What a store must equal: the server's digest, or that of its view.
want() {
    if [ "$rule" = group ]; then server_digest; else
        SV view-digest --store "$1" | awk '/^digest/ {print $2}'; fi
}
same() { # same CONTEXT: every store equals what it must
    for i in 1 2 3; do
        [ "$(S "st$i" digest)" = "$(want "$i")" ] || fail "st$i differs from the server $1"
    done
}
code1=$(awk -F, 'NR == 2 {print $2}' "$T/gen/stores.csv")
phone() { awk -F, -v n="$1" 'NR == n {print $3}' "$T/gen/$code1/customers.csv"; }

check "the backup, then links the server makes"
SV backup "$T/srv-backup" >/dev/null
before=$(links)
S st2 add customer --name 到店甲 --phone "$(phone 2)" >/dev/null
S st3 add customer --name 到店乙 --phone "$(phone 3)" >/dev/null
S st3 add customer --name 到店丙 --phone "$(phone 4)" >/dev/null
for st in st2 st3 st1 st2 st3; do S "$st" sync -q; done
made=$(links)
[ "$made" -ge $((before + 2)) ] || fail "the walk-ins made $((made - before)) links, wanted 2 or more"
same "before the loss"

check "restore"
jp_server_stop
SV restore "$T/srv-backup" >"$T/out" || { cat "$T/out" >&2; fail "restore failed"; }
[ "$(links)" = "$before" ] || fail "the restored server has $(links) links, the backup $before"
SV status >"$T/out"
grep -q "^recovering" "$T/out" || { cat "$T/out" >&2; fail "status does not say recovering"; }
jp_server_start
# A restore of a running server is refused, and changes nothing.
if SV restore "$T/srv-backup" >"$T/out" 2>&1; then fail "restore over a running server"; fi
grep -q "stop it first" "$T/out" || { cat "$T/out" >&2; fail "restore refused unclearly"; }

check "the stores sync on and give the server its links back"
for st in st1 st2 st3; do
    S "$st" sync >"$T/$st.out" 2>&1 || { cat "$T/$st.out" >&2; fail "$st does not sync with the restored server"; }
    if [ "$st" = st2 ]; then # killed in the middle: the recovery goes on where it was
        kill -9 "$SPID"
        wait "$SPID" 2>/dev/null || true
        SV status | grep -q "^recovering.*" || fail "the recovery did not survive kill -9"
        jp_server_start
    fi
done
grep -q "returned" "$T/st1.out" || { cat "$T/st1.out" >&2; fail "st1 returned nothing"; }
for st in st1 st2 st3; do S "$st" sync -q || fail "$st: second round"; done
SV status >"$T/out"
if grep -q "^recovering" "$T/out"; then cat "$T/out" >&2; fail "still recovering after every store synced"; fi
grep -q "recovered: $((made - before)) of the server.s own changes returned" "$T/server.err" ||
    { grep -h "returned\|recovered" "$T"/st?.out "$T/server.err" >&2; fail "the server did not take its $((made - before)) links back"; }
[ "$(links)" = "$made" ] || fail "the server has $(links) links, it had made $made"
same "after the restore"
for st in st1 st2 st3; do S "$st" verify >/dev/null || fail "$st does not verify"; done

check "it links again"
S st2 add customer --name 到店丁 --phone "$(phone 5)" >/dev/null
for st in st2 st1 st2 st3; do S "$st" sync -q || fail "$st after the recovery"; done
[ "$(links)" -eq $((made + 1)) ] || fail "the new walk-in was not linked ($(links) links)"
same "after the new link"
echo "server_restore ($rule): ok"
