#!/usr/bin/env bash
# store_damage.sh -- a damaged data.mdb never crashes the store's programs.
# LMDB keeps no checksums, so damage is found by what it breaks: over 20
# seeded corruptions of a copy of a real store's file (a few bytes at a few
# places, never the two meta pages), every command ends by itself (10 s
# bound) with exit 0, 1 or 4 -- never a signal, an LMDB assertion or a
# sanitizer report -- and exit 4 says the file is damaged and where the
# restore is described.  A state altered so that every page is still
# sound is found by `verify --deep` alone: it names the record.
# (about 30 s under the sanitizers: 160 runs of the program)
set -euo pipefail
NAME=store-damage
source "$(dirname "$0")/lib/store.bash"

new_store
"$GEN" --out "$T/gen" --stores 1 --customers 200 --seed 2 >/dev/null
D=$(find "$T/gen" -name customers.csv -printf '%h\n' | head -1)
ok import --customers "$D/customers.csv" --vehicles "$D/vehicles.csv" --events "$D/events.csv"
ok add customer --name DEEPCHECK --ext-id DEEP1 --created-at 2025-01-01
DEEP=$(cat "$T/out")
C1=$(sed -n 2p "$D/customers.csv" | cut -d, -f1)
ok verify --deep
has "$T/out" "deep ok:"
cp "$JIPAN_STORE_DIR/data.mdb" "$T/clean.mdb"

check "a state altered inside sound pages: only verify --deep sees it"
python3 - "$JIPAN_STORE_DIR/data.mdb" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
# In a record's state the name follows its writer's store (7); in the
# change, its field number (2).
i = b.find(b'\x07\xa9DEEPCHECK')
assert i >= 0, "state not found"
b[i + 10] = ord('X')
open(p, 'wb').write(b)
EOF
ok verify
run 1 verify --deep
has "$T/out" "record $DEEP: its state differs from the replay of its log"
has "$T/out" "deep FAULT: 1 of"
has "$T/err" "deploy/README.md"

check "20 corruptions: no crash, no hang, a clear word"
CMDS=("verify" "verify --deep" "status" "log" "show ext:$C1" "find DEEPCHECK" "report"
      "add customer --name 新客 --created-at 2025-01-01")
bad=0
for seed in $(seq 1 20); do
    cp "$T/clean.mdb" "$JIPAN_STORE_DIR/data.mdb"
    python3 - "$JIPAN_STORE_DIR/data.mdb" "$seed" <<'EOF'
import random, sys
path, seed = sys.argv[1], int(sys.argv[2])
r = random.Random(seed)
data = bytearray(open(path, 'rb').read())
pages = len(data) // 4096
for _ in range(r.randint(1, 6)):
    off = r.randrange(2, pages) * 4096 + r.randrange(0, 4096 - 16)
    for i in range(r.choice([1, 2, 4, 8, 16])):
        data[off + i] = r.randrange(256)
open(path, 'wb').write(data)
EOF
    cp "$JIPAN_STORE_DIR/data.mdb" "$T/seed.mdb"
    for cmd in "${CMDS[@]}"; do
        CHECK="seed $seed: $cmd"
        got=0
        # shellcheck disable=SC2086
        timeout -k 2 10 "$BIN" $cmd >"$T/out" 2>"$T/err" </dev/null || got=$?
        case $got in
        0 | 1) ;;
        4) has "$T/err" "is damaged"
           has "$T/err" "deploy/README.md" ;;
        124 | 137) fail "did not end within 10 s" ;;
        *) cat "$T/err" >&2; fail "exited $got" ;;
        esac
        for word in AddressSanitizer "runtime error" Assertion "Segmentation"; do
            hasnt "$T/err" "$word"
        done
        [ "$cmd" = "verify --deep" ] && [ "$got" -ne 0 ] && bad=$((bad + 1))
        # An edit must not make it worse: restore the damaged copy.
        cp "$T/seed.mdb" "$JIPAN_STORE_DIR/data.mdb"
    done
done
check "the corruptions were found"
[ "$bad" -ge 12 ] || fail "verify --deep found only $bad of 20 corruptions"
echo "verify --deep found $bad of 20 corruptions"
ls "${TMPDIR:-/tmp}" | grep -q '^jipan-verify\.' && fail "verify --deep left a scratch directory" || true
echo "PASS"
