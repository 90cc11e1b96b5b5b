#!/usr/bin/env bash
# store_full.sh -- a full disk never breaks a store: on a small tmpfs, an
# import that does not fit says "disk full", exits 3 and leaves the store
# as it was (log, digest, verify); `init` on a full disk says so instead of
# dying of SIGBUS; with room again, the import goes through.  Needs to
# mount a tmpfs (root); skipped (exit 77) where it cannot.
set -euo pipefail
NAME=store-full
source "$(dirname "$0")/lib/store.bash"

MNT="$T/mnt"
mkdir "$MNT"
if ! mount -t tmpfs -o size=3m jipan-test "$MNT" 2>/dev/null; then
    echo "SKIP: cannot mount a small tmpfs here (not root?)"
    exit 77
fi
trap 'umount "$MNT" 2>/dev/null || true; rm -rf "$T"' EXIT
export JIPAN_STORE_DIR="$MNT/store"

"$GEN" --out "$T/gen" --stores 1 --customers 3000 --seed 9 >/dev/null
D=$(find "$T/gen" -name customers.csv -printf '%h\n' | head -1)
head -21 "$D/customers.csv" >"$T/small.csv"

check "a store on a small file system, a first import"
new_store
ok import --customers "$T/small.csv"
ok digest
cp "$T/out" "$T/digest0"
LOG0=$(log_len)

check "an import that does not fit: disk full, nothing changed"
run 3 import --customers "$D/customers.csv" --vehicles "$D/vehicles.csv" --events "$D/events.csv"
has "$T/err" "disk full"
hasnt "$T/err" "Input/output error"
[ "$(log_len)" -eq "$LOG0" ] || fail "the log changed"
ok verify
ok digest
cmp -s "$T/out" "$T/digest0" || fail "the digest changed"
ok add customer --name 王五 --created-at 2025-01-01 # the space LMDB already has

check "init on a full disk: disk full, no crash"
dd if=/dev/zero of="$MNT/fill" bs=64k 2>/dev/null || true
got=0
"$BIN" -d "$MNT/other" init --store 2 --code B --name b --region r --group g \
    >"$T/out" 2>"$T/err" || got=$?
[ "$got" -eq 3 ] || { cat "$T/err" >&2; fail "init exited $got, wanted 3"; }
has "$T/err" "disk full"
[ ! -e "$MNT/other/store.key" ] || fail "init left a key behind"

check "with room again, the import goes through"
rm -f "$MNT/fill"
ok verify
head -301 "$D/customers.csv" >"$T/more.csv"
ok import --customers "$T/more.csv"
has "$T/out" "created 280"
ok verify
echo "PASS"
