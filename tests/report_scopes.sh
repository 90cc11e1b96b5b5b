#!/usr/bin/env bash
# report_scopes.sh -- the figures as the server serves them at every scope,
# with real processes on 127.0.0.1:
#
#   - the same files imported and synced in two orders of stores give
#     byte-identical reports (metrics.md "Ties": a person surveyed at two
#     stores at one instant, rows of one person created at one instant
#     with two districts);
#   - the group's report lists the enrolled stores, not every store number;
#   - the churn warning list (QUERY at_risk) of the group and of a region
#     is the union of their stores' `today` at-risk items, phones masked,
#     and a region key gets its region only;
#   - complaints are counted crossed, severity by subject;
#   - a customer migrated late (created_at after his sale) is counted from
#     his sale, in the year-ago column alike, and his regional row says
#     "district": null.
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"

Q() { "$B/client/jipan-query" --server "tcp://127.0.0.1:$PORT" --server-key "$KEY" "$@"; }
py() { python3 -c "$@"; }
D=2026-06-30

check setup
jp_group scopes 24000
T0=$T PORT0=$PORT
trap 'jp_server_stop; rm -rf "$T0"' EXIT
"$B/tools/jipan-gen" --out "$T0/gen" --stores 3 --customers 150 --seed 7 >/dev/null
# Stores 1 and 2 make one region.
R1=$(awk -F, 'NR==2 {print $4}' "$T0/gen/stores.csv")
awk -F, -v r="$R1" 'BEGIN {OFS = ","} NR==3 {$4 = r} {print}' "$T0/gen/stores.csv" >"$T0/stores.csv"
mv "$T0/stores.csv" "$T0/gen/stores.csv"
# Hand-made rows: one person at stores 1 and 2 (same phone), rows created
# at one instant with two districts, an owner through store 1, surveyed at
# one instant at both stores with opposite answers.  And, for a store of
# its own, a customer migrated late.
python3 - "$T0" <<'EOF'
import os, sys
t = sys.argv[1]
def vin(body):  # ISO 3779 check digit in position 9
    val = {c: i for i, c in enumerate("0123456789")}
    val.update(dict(zip("ABCDEFGH", range(1, 9)), J=1, K=2, L=3, M=4, N=5, P=7, R=9,
                    S=2, T=3, U=4, V=5, W=6, X=7, Y=8, Z=9))
    w = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
    r = sum(val[c] * w[i] for i, c in enumerate(body)) % 11
    return body[:8] + ("X" if r == 10 else str(r)) + body[9:]
def add(path, line):
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
g = t + "/gen"
v1 = vin("LSVTE0000T2000001")
for code, dist, answers in (("HZ01", "平局甲区", "5,high,very_likely"),
                            ("SZ01", "平局乙区", "1,low,unlikely")):
    add(f"{g}/{code}/customers.csv",
        f"CTIE,钟平,16612340001,,,{dist},walk_in,,2026-01-05T10:00:00+08:00,")
    add(f"{g}/{code}/events.csv",
        f"ETIE,CTIE,survey,2026-06-01T10:00:00+08:00,,,,,,,,,,{answers},,,")
add(f"{g}/HZ01/vehicles.csv", f"{v1},CTIE,凯美瑞 2.0,粤L00001,2026-01-05,100000,new")
late = t + "/late"
os.makedirs(late)
v2 = vin("LSVLA0000T2000002")
with open(late + "/customers.csv", "w", encoding="utf-8") as f:
    f.write("ext_id,name,phone,district,created_at\n")
    f.write("CLATE,迟到,16612340009,,2026-03-22\n")
with open(late + "/vehicles.csv", "w", encoding="utf-8") as f:
    f.write("vin,customer_ext_id,model,delivered_at,price\n")
    f.write(f"{v2},CLATE,雅阁,2025-05-26,150000\n")
with open(late + "/events.csv", "w", encoding="utf-8") as f:
    f.write("ext_id,customer_ext_id,kind,at,vin,service_type,mileage,channel,purpose\n")
    f.write("ELATE1,CLATE,contact,2025-05-27T10:00:00+08:00,,,,phone,day3\n")
    f.write(f"ELATE2,CLATE,service,2025-07-01T10:00:00+08:00,{v2},first_maintenance,3000,,\n")
EOF
"$B/client/jipan-query" keygen "$T0/group.key" >"$T0/group.pub"
"$B/client/jipan-query" keygen "$T0/region.key" >"$T0/region.pub"

# run K ORDER: a group of its own under $T0/runK, stores imported, enrolled
# and synced in ORDER (store numbers), then its reports as of D in $T0.
run() {
    local k=$1 order=$2 i store code name region
    T=$T0/run$k PORT=$((PORT0 + k))
    mkdir -p "$T"
    jp_conf
    SV init >/dev/null
    KEY=$(SV keys | awk '/^curve/ {print $2}')
    for i in $order; do
        IFS=, read -r store code name region < <(awk -F, -v s="$i" '$1 == s' "$T0/gen/stores.csv")
        jp_store "st$i" "$store" "$code" "$name" "$region" "$T0/gen/$code"
        sleep 0.01 # the next store's ids are later by milliseconds
    done
    SV enroll --role group --curve "$(cat "$T0/group.pub")" >/dev/null
    SV enroll --role "region:$R1" --curve "$(cat "$T0/region.pub")" >/dev/null
    jp_server_start
    # shellcheck disable=SC2086
    jp_first_sync $(printf 'st%s ' $order)
    for i in $order; do S "st$i" sync -q; done # each pulls all the others
    for sc in group "region:$R1" store:1 store:2; do
        Q --key "$T0/group.key" report --scope "$sc" --as-of $D --format json >"$T0/$k.${sc/:/}.json"
    done
    Q --key "$T0/group.key" report --scope group --as-of $D --format csv >"$T0/$k.group.csv"
    Q --key "$T0/group.key" at-risk --scope group --as-of $D --format json >"$T0/$k.risk-group.json"
    Q --key "$T0/group.key" at-risk --scope group --as-of $D --format csv >"$T0/$k.risk-group.csv"
    Q --key "$T0/region.key" at-risk --as-of $D --format json >"$T0/$k.risk-region.json"
    Q --key "$T0/region.key" at-risk --scope store:1 --as-of $D >"$T0/$k.risk-text"
    for i in 1 2 3; do S "st$i" today --as-of $D --format json >"$T0/$k.today$i.json"; done
}

check "stores imported and synced in the order 1 2 3"
run 1 "1 2 3"
check "a region key's at-risk list: its region only"
rc=0
Q --key "$T0/region.key" at-risk --scope group >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "only group and auditor keys" "$T/err" || fail "region key read the group's list (exit $rc)"
rc=0
Q --key "$T0/region.key" at-risk --scope store:3 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "may not read that store" "$T/err" || fail "region key read store 3's list (exit $rc)"
rc=0
Q --key "$T0/group.key" at-risk --filter 'visits >1' >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "takes no --filter" "$T/err" || fail "at-risk took a filter (exit $rc)"
jp_server_stop
check "stores imported and synced in the order 3 2 1"
run 2 "3 2 1"
jp_server_stop

check "the same files in two orders of stores give byte-identical reports"
for f in group.json region$R1.json store1.json store2.json group.csv; do
    cmp -s "$T0/1.$f" "$T0/2.$f" || { diff "$T0/1.$f" "$T0/2.$f" >&2 || true; fail "$f differs with the order of stores"; }
done
# The tie went to the greater store: the district of store 2's row.
py 'import json,sys
d = {r["district"]: r["now"] for r in json.load(open(sys.argv[1]))["regional"]}
assert "平局甲区" not in d and d["平局乙区"] == {"quality": 0, "potential": 1, "general": 0}, d
d = {r["district"] for r in json.load(open(sys.argv[2]))["regional"]}
assert "平局甲区" in d, d
' "$T0/1.group.json" "$T0/1.store1.json" || fail "the district tie did not go to store 2 (or store 1 lost its own)"

check "the group's report lists the enrolled stores"
py 'import json,sys
s = json.load(open(sys.argv[1]))["stores"]
assert s == [1, 2, 3], f"{len(s)} stores listed"
' "$T0/1.group.json" || fail "the group's stores are not [1, 2, 3]"
[ "$(wc -c <"$T0/1.group.json")" -lt 100000 ] || fail "the group's JSON is $(wc -c <"$T0/1.group.json") bytes"

check "the at-risk list of the group and of a region = the union of the stores' today lists"
for k in 1 2; do
    py 'import json,sys
t0, k, reg = sys.argv[1], sys.argv[2], sys.argv[3]
def union(stores):
    out = set()
    for s in stores:
        for it in json.load(open(f"{t0}/{k}.today{s}.json"))["items"]:
            if it["kind"] == "at_risk":
                out.add((s, it["customer"]))
    return out
def listed(name):
    j = json.load(open(f"{t0}/{k}.risk-{name}.json"))
    assert j["schema"] == "jipan.at_risk/1" and j["as_of"].startswith("2026-06-30T23:59:59")
    assert j["count"] == len(j["items"])
    for it in j["items"]:
        assert set(it) == {"store", "store_code", "customer", "name", "phone", "first_sale",
                           "last_purchase", "last_visit"}, it
        assert it["store_code"] == ("HZ01", "SZ01", "GZ01")[it["store"] - 1], it
        assert it["phone"] is None or "****" in it["phone"], it["phone"]
    return {(it["store"], it["customer"]) for it in j["items"]}
g = listed("group")
assert g == union([1, 2, 3]), (sorted(g ^ union([1, 2, 3])))
assert len(g) > 0, "nobody at risk: the test data proves nothing"
assert {s for s, _ in g} == {1, 2, 3}, "a store has nobody at risk"
r = listed("region")
assert r == union([1, 2]), sorted(r ^ union([1, 2]))
' "$T0" "$k" "$R1" || fail "the at-risk lists (run $k) are not the union of the stores' lists"
done
head -1 "$T0/1.risk-group.csv" | grep -qx 'store,store_code,customer,name,phone,first_sale,last_purchase,last_visit' ||
    fail "the at-risk CSV header"
[ "$(wc -l <"$T0/1.risk-group.csv")" -gt 1 ] || fail "the at-risk CSV has no row"
! grep -qE '(\+86)?1[3-9][0-9]{9}' "$T0/1.risk-group.csv" || fail "a full phone in the at-risk CSV"
grep -q '\*\*\*\*' "$T0/1.risk-group.csv" || fail "no masked phone in the at-risk CSV"

grep -qE '^store +store_code +customer +name +phone +first_sale +last_purchase +last_visit' "$T0/1.risk-text" ||
    fail "the at-risk list as text has no header"
[ "$(grep -c '\*\*\*\*' "$T0/1.risk-text")" -eq "$(py 'import json,sys; print(sum(1 for i in json.load(open(sys.argv[1]))["items"] if i["store"] == 1 and i["phone"]))' "$T0/1.risk-group.json")" ] ||
    fail "the text list of store 1 is not store 1's part of the group's list"

check "complaints crossed: severity by subject"
py 'import json,sys
c = json.load(open(sys.argv[1]))["complaints"]
x = c["crossed"]
assert sum(x[s][j] for s in ("major", "minor") for j in ("sales", "service", "product")) == c["count"] > 0
for s in ("major", "minor"):
    assert sum(x[s].values()) == c["severity"][s], s
for j in ("sales", "service", "product"):
    assert x["major"][j] + x["minor"][j] == c["subject"][j], j
' "$T0/1.group.json" || fail "the crossed complaints do not add up"
grep -q '^complaints,crossed.major.sales,,,[0-9]' "$T0/1.group.csv" || fail "no crossed row in the CSV"

check "a customer migrated late counts from his sale, in both columns alike"
T=$T0
S late init --store 9 --code LATE --name 迁移 --region "$R1" --group 测试集团 >/dev/null 2>&1
S late import --customers "$T0/late/customers.csv" --vehicles "$T0/late/vehicles.csv" \
    --events "$T0/late/events.csv" >/dev/null
S late report --as-of 2025-12-31 --format json --filter 'age_days >0' >"$T0/late-2025-12.json"
S late report --as-of 2025-06-30 --format json >"$T0/late-2025-06.json"
S late report --as-of 2026-06-30 --format json >"$T0/late-2026-06.json"
py 'import json,sys
j = json.load(open(sys.argv[1]))
assert j["base"]["owners"] == 1, j["base"]
assert j["loyalty"]["value_concentration"]["customers"] == 1
assert j["loyalty"]["value_concentration"]["revenue_fen"] == 15000000
assert j["retention"]["first_maintenance_return"] == {"num": 1, "den": 1, "pct": 100.0}
assert j["follow_up"]["day3"] == {"num": 1, "den": 1, "pct": 100.0}
assert j["cohort"]["matched"]["den"] == 1
assert j["regional"] == [{"district": None,
                          "now": {"quality": 0, "potential": 1, "general": 0},
                          "year_ago": {"quality": 0, "potential": 0, "general": 0}}], j["regional"]
then = json.load(open(sys.argv[2]))["regional"]
later = json.load(open(sys.argv[3]))["regional"]
assert then[0]["now"] == later[0]["year_ago"] == {"quality": 0, "potential": 1, "general": 0}, (then, later)
' "$T0/late-2025-12.json" "$T0/late-2025-06.json" "$T0/late-2026-06.json" ||
    fail "the late-migrated customer is not counted from his sale"

echo "report_scopes: ok ($(py 'import json,sys; print(json.load(open(sys.argv[1]))["count"])' "$T0/1.risk-group.json") owners at risk in the group)"
