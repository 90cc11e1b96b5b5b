#!/usr/bin/env bash
# store_repair.sh -- the way out for a store whose log holds changes with a
# user name over 128 bytes (what versions without the check wrote; made
# here with LMDB's mdb_dump/mdb_load, tests/lib/old_authors.py): verify
# names the fault and `repair`, the server refuses the sync and the store
# says to run `repair`; `jipan-store repair` rewrites the unsynced changes,
# keeps every record as it was, and the next sync is accepted.  A real
# server and store on 127.0.0.1.
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"
jp_group store-repair 27600
export JIPAN_USER=tester
unset TZ JIPAN_STORE_DIR
command -v mdb_load >/dev/null || fail "mdb_load missing (lmdb-utils)"

jp_store s1 1 HZ01 惠州一店 惠州
jp_server_start
jp_first_sync s1
for i in 1 2 3 4 5; do
    S s1 add customer --name "客$i" --phone "1380013800$i" --created-at 2025-01-0$i >/dev/null
done
S s1 sync -q
DIGEST=$(S s1 digest)

check "a log written before the author check"
S s1 add customer --name 客6 --created-at 2025-01-06 >/dev/null
S s1 add customer --name 客7 --created-at 2025-01-07 >/dev/null
S s1 add customer --name 客8 --created-at 2025-01-08 >/dev/null
DIGEST=$(S s1 digest)
python3 "$(dirname "$0")/lib/old_authors.py" "$T/s1" 1 7=129
[ "$(S s1 digest)" = "$DIGEST" ] || fail "making the old log changed a record"
if S s1 verify >"$T/out" 2>"$T/err"; then fail "verify passed an undecodable author"; fi
grep -qF "author longer than 128 bytes" "$T/err" || fail "verify: $(cat "$T/err")"
grep -qF "jipan-store repair" "$T/err" || fail "verify does not point to repair"

check "the server refuses the sync, the store says what to do"
if S s1 sync -q >"$T/out" 2>"$T/err"; then fail "the sync was accepted"; fi
grep -qF "author" "$T/err" || fail "sync: $(cat "$T/err")"
grep -qF "jipan-store repair" "$T/err" || fail "sync does not point to repair: $(cat "$T/err")"
[ "$(server_seq 1)" = 5 ] || fail "the server holds seq $(server_seq 1), wanted 5 (the batch from 6 is refused whole)"

check "a change over 64 KiB (a 100,000-byte name): the store does not even send it"
python3 "$(dirname "$0")/lib/old_authors.py" "$T/s1" 1 8=100000
if S s1 sync -q >"$T/out" 2>"$T/err"; then fail "the sync was accepted"; fi
grep -qF "seq 8 is 100" "$T/err" || fail "sync: $(cat "$T/err")"
grep -qF "jipan-store repair" "$T/err" || fail "sync does not point to repair: $(cat "$T/err")"

check "repair rewrites the unacknowledged changes only, records untouched"
S s1 repair >"$T/out" 2>"$T/err" || fail "repair: $(cat "$T/err")"
grep -qF "seq 7 to 8 (2 changes)" "$T/out" || fail "repair: $(cat "$T/out")"
S s1 verify >/dev/null || fail "verify after repair"
[ "$(S s1 digest)" = "$DIGEST" ] || fail "repair changed a record"
S s1 log --from 7 >"$T/out"
grep -qF "张张张" "$T/out" || fail "the cut author is not in the log"
if S s1 repair >"$T/out" 2>"$T/err"; then fail "a second repair found work"; fi
grep -qF "nothing to repair" "$T/err" || fail "second repair: $(cat "$T/err")"

check "the next sync is accepted, and the group holds the same records"
S s1 sync -q || fail "the sync after repair was refused"
[ "$(server_seq 1)" = 8 ] || fail "the server holds seq $(server_seq 1), wanted 8"
[ "$(server_digest)" = "$DIGEST" ] || fail "the server's digest differs from the store's"
echo "PASS"
