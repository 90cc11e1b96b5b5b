#!/usr/bin/env bash
# report_series.sh -- QUERY series (the figures month by month) against
# the reports it stands for, with a real server on 127.0.0.1:
#
#   - every figure of every month of the group's, a region's and a
#     store's 24-month series equals the report as of that month's end
#     (`report --as-of YYYY-MM-DD` of its last day), the last month the
#     report as of the series' own instant; with a cohort filter too;
#   - among the rows, a person whose two rows are joined only by a later
#     row (phone of one, ID number of the other): two people in the months
#     before that row and one after, in the series as in the reports (a
#     series that kept the latest base's people would count one too few);
#   - the churn warning list asked in parts (offset, limit) is that part of
#     the whole list, its count the whole list's;
#   - months out of 1..36, an argument series does not take, a scope the
#     key may not read: refused with the reason.
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"

Q() { "$B/client/jipan-query" --server "tcp://127.0.0.1:$PORT" --server-key "$KEY" "$@"; }
D=2026-10-31

check setup
jp_group series 25000
"$B/tools/jipan-gen" --out "$T/gen" --stores 3 --customers 120 --shared 0.2 --seed 11 \
    >/dev/null
# The join made late: 钟甲 (a phone) and 钟乙 (another phone, an ID number) are two
# people until 2026-03-10, when a row with both phone and ID number is
# made at store 2; each bought a car in 2025.
python3 - "$T/gen" <<'EOF'
import sys
g = sys.argv[1]
def add(path, line):
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
codes = [l.split(",")[1] for l in open(g + "/stores.csv", encoding="utf-8")][1:]
a, b = codes[0], codes[1]
add(f"{g}/{a}/customers.csv", "CJA,钟甲,16612340001,,,惠城区,walk_in,,2025-01-05T10:00:00+08:00,")
add(f"{g}/{a}/customers.csv", "CJB,钟乙,16612340002,44130219900101001X,,惠城区,walk_in,,2025-02-05T10:00:00+08:00,")
add(f"{g}/{b}/customers.csv",
    "CJC,钟丙,16612340001,44130219900101001X,,福田区,walk_in,,2026-03-10T10:00:00+08:00,")
# (the VINs' check digits, position 9, are right)
add(f"{g}/{a}/vehicles.csv", "LSVJA0001T2000001,CJA,凯美瑞 2.0,粤L00001,2025-01-05,100000,new")
add(f"{g}/{a}/vehicles.csv", "LSVJB0007T2000002,CJB,雅阁,粤L00002,2025-02-05,120000,new")
EOF
jp_gen_stores "$T/gen"
R1=$(awk -F, 'NR==2 {print $4}' "$T/gen/stores.csv")
"$B/client/jipan-query" keygen "$T/group.key" >"$T/group.pub"
"$B/client/jipan-query" keygen "$T/region.key" >"$T/region.pub"
SV enroll --role group --curve "$(cat "$T/group.pub")" >/dev/null
SV enroll --role "region:$R1" --curve "$(cat "$T/region.pub")" >/dev/null
jp_server_start
jp_first_sync st1 st2 st3

# compare SERIES.json PREFIX: each month's figures against PREFIX.MONTH.json
compare() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["schema"] == "jipan.series/1", s["schema"]
n = len(s["months"])
checked = 0
for i, month in enumerate(s["months"]):
    r = json.load(open(f"{sys.argv[2]}.{month}.json"))
    assert r["as_of_ms"] == s["as_of_ms"][i], (month, r["as_of"], s["as_of_ms"][i])
    for f in s["figures"]:
        v = r[f["section"]]
        for k in f["name"].split("."):
            v = v[k]
        if v != f["values"][i]:
            sys.exit(f"{month} {f['section']}.{f['name']}: series {f['values'][i]}, report {v}")
        checked += 1
print(f"{n} months, {checked} figures equal")
EOF
}

# reports KEY SCOPE PREFIX SERIES [FILTER]: the report as of each month's
# end of SERIES, into PREFIX.MONTH.json
reports() {
    local key=$1 scope=$2 prefix=$3 series=$4 filter=${5:-} m last
    last=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["months"][-1])' "$series")
    for m in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["months"]))' "$series"); do
        local asof
        if [ "$m" = "$last" ]; then
            asof=$D
        else
            asof=$(date -d "$m-01 +1 month -1 day" +%F)
        fi
        Q --key "$key" report --scope "$scope" --as-of "$asof" ${filter:+--filter "$filter"} \
            --format json >"$prefix.$m.json"
    done
}

for sc in group "region:$R1" store:2; do
    check "series $sc: every figure of 24 months equals the month's report"
    Q --key "$T/group.key" series --scope "$sc" --as-of $D >"$T/s.json"
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert len(s["months"]) == 24 and s["months"][0] == "2024-11" and s["months"][-1] == "2026-10", s["months"]' "$T/s.json" ||
        fail "24 months ending 2026-10 expected"
    reports "$T/group.key" "$sc" "$T/r" "$T/s.json"
    compare "$T/s.json" "$T/r" || fail "series $sc differs from the reports"
done

check "series with a cohort filter, a region key's own region by default"
F='visits >=1, age_days >90'
Q --key "$T/region.key" series --months 6 --as-of $D --filter "$F" >"$T/sf.json"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["scope"] == "region " + sys.argv[2], s["scope"]; assert any(f["section"] == "cohort" for f in s["figures"])' "$T/sf.json" "$R1" ||
    fail "a region key's series is not its region's, or has no cohort figure"
reports "$T/region.key" "region:$R1" "$T/rf" "$T/sf.json" "$F"
compare "$T/sf.json" "$T/rf" || fail "the filtered series differs from the reports"

check "the churn warning list in parts (at_risk offset, limit)"
Q --key "$T/group.key" at-risk --scope group --as-of $D --format json >"$T/risk.json"
Q --key "$T/group.key" at-risk --scope group --as-of $D --format json --offset 2 --limit 3 >"$T/risk-part.json"
Q --key "$T/group.key" at-risk --scope group --as-of $D --format csv --offset 2 --limit 3 >"$T/risk-part.csv"
python3 - "$T/risk.json" "$T/risk-part.json" "$T/risk-part.csv" <<'EOF' || fail "a part of the list is not that part"
import json, sys
whole, part = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
lines = open(sys.argv[3], encoding="utf-8").read().splitlines()
assert whole["count"] >= 5, whole["count"]
assert part["count"] == whole["count"], (part["count"], whole["count"])
assert part["items"] == whole["items"][2:5], part["items"]
assert len(lines) == 4 and lines[1].split(",")[2] == whole["items"][2]["customer"], lines
EOF
rc=0
Q --key "$T/group.key" report --limit 3 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "takes no --offset or --limit" "$T/err" || fail "report took --limit (exit $rc)"

check "refusals"
rc=0
Q --key "$T/group.key" series --months 37 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "months: must be between 1 and 36" "$T/err" || fail "months 37 (exit $rc): $(cat "$T/err")"
rc=0
Q --key "$T/group.key" series --months 0 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "months:" "$T/err" || fail "months 0 (exit $rc)"
rc=0
Q --key "$T/region.key" series --scope group >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "only group and auditor keys" "$T/err" || fail "region key read the group's series (exit $rc)"
rc=0
Q --key "$T/group.key" report --months 3 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "takes no --months" "$T/err" || fail "report took --months (exit $rc)"
grep -q "series group, 24 months in" "$T/server.err" "$T/server.out" || fail "the server did not log the series"
echo "report_series: OK"
