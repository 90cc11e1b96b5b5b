#!/usr/bin/env bash
# cli_e2e.sh -- drives the real jipan-store binary through a store's day:
# init, hand edits, the counter's searches and the customer screen, refused
# edits that must leave the log untouched, a CSV import run twice, verify,
# status, digest, and the command line's help and usage errors.
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail

NAME=cli-e2e
source "$(dirname "$0")/lib/store.bash"
# Line number of the first line of FILE containing TEXT.
line_of() { grep -nF -- "$2" "$1" | head -1 | cut -d: -f1; }

VIN1=1M8GDM9AXKP042788
VIN2=LFV2A21K0G3012345
PHONE1=13800138000
PHONE2=13900139000
IDNUM=441302198001010023

check "init"
ok init --store 7 --code HZ01 --name "惠州一店" --region 华南 --group 测试集团
grep -qE '^[0-9a-f]{64}$' "$T/out" || fail "init did not print a 64-hex public key"
[ "$(stat -c %a "$T/store")" = 700 ] || fail "store dir mode is not 0700"
[ "$(stat -c %a "$T/store/store.key")" = 600 ] || fail "store.key mode is not 0600"

check "init refuses an initialised store"
run 1 init --store 7 --code HZ01 --name x --region y --group z
has "$T/err" "jipan-store: init:"

check "add customer"
ok add customer --name 张三 --phone "$PHONE1" --id-number "$IDNUM" --gender M \
    --district 惠城区 --source walk_in --grade H --created-at 2025-01-10
C1=$(cat "$T/out")
[ ${#C1} -eq 26 ] || fail "customer id '$C1' is not 26 characters"

check "add vehicle (customer by phone)"
ok add vehicle --customer "$PHONE1" --vin "$VIN1" --model 凯美瑞 --plate 粤L12345 \
    --delivered-at 2025-01-15 --price 189000 --sale-kind new
V1=$(cat "$T/out")

check "add events"
ok add contact --customer "$C1" --channel phone --purpose day3 --at 2025-01-18T09:00
CONTACT=$(cat "$T/out")
ok add service --vin "$VIN1" --service-type first_maintenance --mileage 2800 \
    --amount 0 --at 2025-04-01T10:00
SVC=$(cat "$T/out")
ok add complaint --customer "ext:$C1" --severity major --subject service \
    --ext-id K1 --at 2025-04-02T09:00
ok add complaint-contact --complaint ext:K1 --channel phone --at 2025-04-02T09:30
ok add survey --customer "$C1" --satisfaction 4 --repurchase high \
    --recommend very_likely --at 2025-04-10T15:00

check "add refuses a contact without a channel (usage)"
run 2 add contact --customer "$C1"

check "find by phone (masked)"
ok find "$PHONE1"
has "$T/out" "$C1"
has "$T/out" "张三"
has "$T/out" "138****8000"
hasnt "$T/out" "$PHONE1"
has "$T/out" "凯美瑞 粤L12345"
ok find --full "+86 138-0013-8000"
has "$T/out" "+86$PHONE1"

check "find by name prefix"
ok find 张
has "$T/out" "$C1"

check "find by VIN"
ok find "$VIN1"
has "$T/out" "$C1"

check "find by plate"
ok find 粤L12345
has "$T/out" "$C1"

check "find by ext id"
ok find "ext:$C1"
has "$T/out" "$C1"

check "find without a match exits 1"
run 1 find 王

check "show: card and timeline in order"
ok show "$C1"
has "$T/out" "张三"
has "$T/out" "138****8000"
has "$T/out" "4413**********0023"
hasnt "$T/out" "$PHONE1"
hasnt "$T/out" "$IDNUM"
has "$T/out" "$VIN1"
has "$T/out" "contacted after 30 min"
sed -n '/^timeline/,$p' "$T/out" >"$T/show"
prev=0
for kind in " sale " " contact " " service " " complaint " "complaint_contact" " survey "; do
    n=$(line_of "$T/show" "$kind")
    [ -n "$n" ] || { cat "$T/show" >&2; fail "timeline lacks '$kind'"; }
    [ "$n" -gt "$prev" ] || { cat "$T/show" >&2; fail "timeline: '$kind' out of order"; }
    prev=$n
done

check "show --newest-first"
ok show --newest-first "$PHONE1"
[ "$(line_of "$T/out" " survey ")" -lt "$(line_of "$T/out" " contact ")" ] ||
    fail "newest-first does not put the survey before the contact"

check "update phone"
ok update "$C1" --phone "$PHONE2"
ok find "$PHONE2"
has "$T/out" "$C1"
run 1 find "$PHONE1"
has "$T/err" "no customer found"

check "update vehicle plate and clear its price"
ok update "$V1" --plate 粤L88888 --clear price
ok find 粤L88888
has "$T/out" "$C1"

check "editing an event is refused and writes nothing"
before=$(log_len)
run 1 update "$SVC" --note "changed"
has "$T/err" "events cannot be edited; void it with \`delete\` and add a new one"
[ "$(log_len)" -eq "$before" ] || fail "log grew after a refused edit"

check "bad phone refused without repeating it"
BAD=12345678901
before=$(log_len)
run 1 add customer --name 李四 --phone "$BAD"
has "$T/err" "jipan-store: add: --phone"
for ((i = 0; i + 3 <= ${#BAD}; i++)); do
    hasnt "$T/err" "${BAD:i:3}"
done
[ "$(log_len)" -eq "$before" ] || fail "log grew after a refused add"

check "unknown field option is a usage error naming it"
run 2 add customer --name 李四 --colour red
has "$T/err" "--colour"

check "delete an event; show hides it, --all shows it"
ok delete "$CONTACT"
ok show "$C1"
hasnt "$T/out" " contact "
ok show --all "$C1"
has "$T/out" "contact (deleted)"

check "import"
cat >"$T/customers.csv" <<'EOF'
ext_id,name,phone,gender,district,source,grade,created_at
C100,王五,13700137000,M,惠阳区,phone,A,2025-02-01
C101,赵六,+8613600136000,F,惠城区,internet,,2025-02-03T10:00
EOF
cat >"$T/vehicles.csv" <<EOF
vin,customer_ext_id,model,plate,delivered_at,price,sale_kind
$VIN2,C101,雅阁,粤L66666,2025-02-10,159000.50,new
EOF
cat >"$T/events.csv" <<EOF
ext_id,customer_ext_id,kind,at,vin,service_type,mileage,amount,channel,purpose
E1,C101,contact,2025-02-13T10:00:00+08:00,,,,,phone,day3
E2,C101,service,2025-05-01T09:00:00+08:00,$VIN2,first_maintenance,2900,120.00,,
EOF
ok import --customers "$T/customers.csv" --vehicles "$T/vehicles.csv" --events "$T/events.csv"
has "$T/out" "rows 5"
has "$T/out" "created 5"
has "$T/out" "rejected 0"

check "re-import changes nothing"
before=$(log_len)
ok import --customers "$T/customers.csv" --vehicles "$T/vehicles.csv" --events "$T/events.csv"
has "$T/out" "created 0"
has "$T/out" "updated 0"
[ "$(log_len)" -eq "$before" ] || fail "re-import wrote changes"

check "imported records are found"
ok find 13600136000
has "$T/out" "赵六"
has "$T/out" "雅阁 粤L66666"
ok show ext:C101
has "$T/out" "first_maintenance, 2900 km, 120.00 yuan"

check "import with a bad row is refused"
printf 'ext_id,name,phone,created_at\nC200,钱七,1234,2025-03-01\n' >"$T/bad.csv"
run 1 import --customers "$T/bad.csv"
has "$T/out" "rejected 1"

check "log masks phones"
ok log
has "$T/out" "phone=137****7000"
has "$T/out" "tester"
hasnt "$T/out" "13700137000"
ok log --from 2 --limit 3
[ "$(wc -l <"$T/out")" -eq 3 ] || fail "log --from 2 --limit 3 printed $(wc -l <"$T/out") lines"

check "verify"
ok verify
has "$T/out" "chain ok: store 7,"

check "status"
ok status
has "$T/out" "HZ01"
has "$T/out" "惠州一店"
has "$T/out" "Asia/Shanghai"

check "digest is stable"
ok digest
grep -qE '^[0-9a-f]{64}$' "$T/out" || fail "digest is not 64 hex"
d1=$(cat "$T/out")
ok digest
[ "$(cat "$T/out")" = "$d1" ] || fail "digest changed without a write"

check "--help of every command"
ok --help
for cmd in init import add update delete find show log verify status digest; do
    has "$T/out" "  $cmd "
done
for cmd in init import add update delete find show log verify status digest; do
    ok "$cmd" --help
    has "$T/out" "usage: jipan-store $cmd"
done

check "usage errors"
run 2 frobnicate
has "$T/err" "unknown command"
run 2
run 2 find --bogus x
has "$T/err" "--bogus"
run 2 log --limit

check "-u names the author"
ok -u 小李 update "$C1" --district 惠阳区
ok log --from "$(( $(log_len) ))"
has "$T/out" "小李"

check "an uninitialised directory is refused"
run 1 -d "$T/nowhere" status

check "report: text, json, csv, a filter, bad input"
ok report --as-of 2026-06-30
has "$T/out" "loyalty report, store 7 HZ01, as of 2026-06-30T23:59:59.999+08:00"
has "$T/out" "repeat-purchase rate"
has "$T/out" "regional concentration"
ok report --as-of 2026-06-30 --format json
has "$T/out" '"schema": "jipan.stats/1"'
has "$T/out" '"owners": '
ok report --as-of 2026-06-30 --format csv
has "$T/out" "section,figure,numerator,denominator,value"
has "$T/out" "retention,churn,"
ok report --as-of 2026-06-30 --format csv --table regional
has "$T/out" "district,quality,potential,general"
ok report --as-of 2026-06-30 --filter "visits >=0, age_days >1"
has "$T/out" "cohort filter: visits >=0, age_days >1"
has "$T/out" "vehicles matching the filter"
run 2 report --filter "visits >> 3"
has "$T/err" "filter: column 9: expected a number after '>'"
run 2 report --as-of 2026-13-01
has "$T/err" "--as-of"
run 2 report --format xml
has "$T/err" "--format must be text, json or csv"

check "today: the work list, phones masked"
ok today --as-of 2025-01-16
has "$T/out" "work list, store 7 HZ01, 2025-01-16"
ok today --as-of 2025-01-16 --format json
has "$T/out" '"schema": "jipan.today/1"'
hasnt "$T/out" "$PHONE1"
ok today --as-of 2025-01-16 --format csv
has "$T/out" "kind,due,customer,name,phone,vin,details"
hasnt "$T/out" "$PHONE1"
for cmd in report today; do
    ok "$cmd" --help
    has "$T/out" "usage: jipan-store $cmd"
done

echo "cli_e2e: all checks passed"
