#!/usr/bin/env bash
# server_full.sh -- the group server's disk (its LMDB map) fills up in the
# middle of a sync: the batch that does not fit is refused with ERROR full
# and nothing of it is written; the store says so clearly and stops; once
# the operator raises the map, the same sync completes and every node is
# equal.  Real server and store on 127.0.0.1.
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"

check setup
jp_group full 22000
jp_conf map_mib=3 max_batch=131072
"$B/tools/jipan-gen" --out "$T/gen" --stores 1 --customers 1500 --seed 4 >/dev/null
jp_gen_stores "$T/gen"
jp_server_start

check "the map fills: refused with a clear error, nothing half-written"
rc=0
S st1 sync --server "tcp://127.0.0.1:$PORT" --server-key "$KEY" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] || { cat "$T/out" "$T/err" >&2; fail "a sync into a full server exited $rc, wanted 1"; }
grep -q "server refused (full)" "$T/err" || { cat "$T/err" >&2; fail "no clear 'full' refusal"; }
grep -q "refused (full)" "$T/server.err" || fail "the server did not log the refusal"
accepted=$(server_seq 1)
total=$(seq_of st1)
[ "$accepted" -gt 0 ] && [ "$accepted" -lt "$total" ] ||
    fail "wanted a partial sync (accepted $accepted of $total)"
jp_server_stop
# What was accepted is whole: the chain verifies, the group log holds
# exactly the accepted changes and their links.
glog=$(SV status | awk '/^group log/ {print $3}')
links=$(SV status | awk '/^records/ {print $(NF-1)}')
[ "$glog" -eq $((accepted + links)) ] || fail "group log $glog != accepted $accepted + links $links"

check "the operator raises the map: the same sync completes"
jp_conf map_mib=64 max_batch=131072
jp_server_start
S st1 sync -q || fail "the sync after raising the map failed"
[ "$(server_seq 1)" -eq "$total" ] || fail "the server holds $(server_seq 1) of $total"
[ "$(S st1 digest)" = "$(server_digest)" ] || fail "the store and the server differ"
S st1 verify >/dev/null || fail "the store's chains do not verify"
echo "server_full: ok"
