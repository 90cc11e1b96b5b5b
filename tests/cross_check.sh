#!/usr/bin/env bash
# cross_check.sh -- the same data as one store, or split over three stores
# and synced, gives the same group figures: people are counted once
# (customers shared by two stores are one person), with real processes.
#
#   one:   a store that imports all three stores' files (one store: the
#          group's whole base, its own scope)
#   three: three stores import their own files and sync to a server; the
#          server's group report, asked with a group key
#
# Every figure of the two reports as of one instant must be equal, except
# cross-store customers (0 by definition in a one-store group).
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"

check setup
jp_group cross 23000
"$B/tools/jipan-gen" --out "$T/gen" --stores 3 --customers 300 --seed 21 --shared 0.2 >/dev/null
jp_gen_stores "$T/gen"
S one init --store 9 --code ALL --name 合并 --region 惠州 --group 测试集团 >/dev/null 2>&1
while IFS=, read -r store code name region; do
    [ "$store" = store ] && continue
    S one import --customers "$T/gen/$code/customers.csv" --vehicles "$T/gen/$code/vehicles.csv" \
        --events "$T/gen/$code/events.csv" >/dev/null
done <"$T/gen/stores.csv"
"$B/client/jipan-query" keygen "$T/group.key" >"$T/group.pub"
SV enroll --role group --curve "$(cat "$T/group.pub")" >/dev/null
jp_server_start
jp_first_sync st1 st2 st3
for d in st1 st2 st3; do S "$d" sync -q; done
links=$(SV status | awk '/^records/ {print $(NF-1)}')
[ "$links" -gt 0 ] || fail "the generated group shares no customer (no link made)"

D=2026-10-31
figures() { grep -v '^loyalty,cross_store_customers,' "$1"; }

check "one store holding everything = three stores synced, as the server counts the group"
S one report --as-of $D --format csv >"$T/one.csv"
"$B/client/jipan-query" --key "$T/group.key" --server "tcp://127.0.0.1:$PORT" --server-key "$KEY" \
    report --scope group --as-of $D --format csv >"$T/three.csv"
[ "$(wc -l <"$T/one.csv")" -gt 50 ] || fail "the one-store report is nearly empty"
diff <(figures "$T/one.csv") <(figures "$T/three.csv") >&2 ||
    fail "the group's figures differ between one store and three synced stores"
grep -q '^loyalty,cross_store_customers,,,0$' "$T/one.csv" || fail "one store has cross-store customers"
grep -qE '^loyalty,cross_store_customers,,,[1-9]' "$T/three.csv" ||
    fail "three stores sharing customers show no cross-store customer"
people_one=$(awk -F, '$2 == "customers" {print $5}' "$T/one.csv")
rows=$(($(wc -l <"$T/gen/HZ01/customers.csv") + $(wc -l <"$T/gen/SZ01/customers.csv") + \
    $(wc -l <"$T/gen/GZ01/customers.csv") - 3))
[ "$people_one" -lt "$rows" ] || fail "people ($people_one) not fewer than customer rows ($rows): shared ones counted twice"

echo "cross_check: ok ($people_one people from $rows customer rows)"
