#!/usr/bin/env bash
# store_concurrent.sh -- two processes writing one store at once never
# create a record twice: the same files imported by two jipan-store
# processes started together (three rounds) end with every record once,
# each import either done or stopped with a clear message, verify passes,
# and one more import then finds everything unchanged.  An `add` of a
# customer that a running import also creates is caught the same way.
set -euo pipefail
NAME=store-concurrent
source "$(dirname "$0")/lib/store.bash"

"$GEN" --out "$T/gen" --stores 1 --customers 3000 --seed 5 >/dev/null
D=$(find "$T/gen" -name customers.csv -printf '%h\n' | head -1)
FILES=(--customers "$D/customers.csv" --vehicles "$D/vehicles.csv" --events "$D/events.csv")

# One import alone: the figures the concurrent ones must match.
new_store
ok import "${FILES[@]}"
ok status
grep -E '^(changes|records)' "$T/out" >"$T/alone"
ALONE_LOG=$(log_len)
[ "$ALONE_LOG" -gt 3000 ] || fail "the import alone wrote $ALONE_LOG changes"

for round in 1 2 3; do
    check "round $round: two imports of the same files at once"
    new_store
    rc1=0 rc2=0
    "$BIN" import "${FILES[@]}" >"$T/o1" 2>"$T/e1" & p1=$!
    "$BIN" import "${FILES[@]}" >"$T/o2" 2>"$T/e2" & p2=$!
    wait $p1 || rc1=$?
    wait $p2 || rc2=$?
    for i in 1 2; do
        rc=$([ $i = 1 ] && echo $rc1 || echo $rc2)
        case $rc in
        0) ;;
        1) has "$T/e$i" "by another writer"
           has "$T/e$i" "Run the same import again" ;;
        *) cat "$T/e$i" >&2; fail "import $i exited $rc" ;;
        esac
    done
    [ "$rc1" = 0 ] || [ "$rc2" = 0 ] || [ "$(log_len)" -lt "$ALONE_LOG" ] ||
        fail "both imports stopped, yet the log is whole"
    got=$(log_len)
    [ "$got" -le "$ALONE_LOG" ] || fail "$got changes after two imports, $ALONE_LOG alone"
    ok verify
    check "round $round: importing again completes it, and writes nothing twice"
    ok import "${FILES[@]}"
    [ "$(log_len)" -eq "$ALONE_LOG" ] || fail "$(log_len) changes, $ALONE_LOG alone"
    ok status
    grep -E '^(changes|records)' "$T/out" >"$T/now"
    diff "$T/alone" "$T/now" >&2 || fail "counts differ from the import alone"
    ok import "${FILES[@]}"
    has "$T/out" "created 0, updated 0"
done

check "an add between an import's check and its write is not written twice"
new_store
head -1 "$D/customers.csv" >"$T/c.csv"
sed -n 2,2001p "$D/customers.csv" >>"$T/c.csv"
EXT=$(sed -n 2001p "$D/customers.csv" | cut -d, -f1)
rc=0
"$BIN" import --customers "$T/c.csv" >"$T/o1" 2>"$T/e1" & p1=$!
"$BIN" add customer --ext-id "$EXT" --name 抢先 --created-at 2025-01-01 >"$T/o2" 2>"$T/e2" || true
wait $p1 || rc=$?
case $rc in
0) ;;
1) has "$T/e1" "by another writer" ;;
*) cat "$T/e1" >&2; fail "import exited $rc" ;;
esac
ok import --customers "$T/c.csv"
ok verify
ok status
has "$T/out" "records    customer 2000,"
echo "PASS"
