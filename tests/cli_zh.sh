#!/usr/bin/env bash
# cli_zh.sh -- jipan-store speaks 简体中文 under LANG=zh_CN.UTF-8 (gettext,
# po/zh_CN.po) and English under LANG=C, with the same figures; JSON and
# CSV keep the schema's words whatever the locale; the catalog translates
# every string the sources mark, and po/jipan.pot is up to date with them.
set -euo pipefail
NAME=cli-zh
. "$(dirname "$0")/lib/store.bash"

zh() { LANG=zh_CN.UTF-8 LC_ALL= LANGUAGE= "$BIN" "$@"; }
en() { LANG=C LC_ALL= LANGUAGE= "$BIN" "$@"; }

check "locale"
locale -a | grep -qix 'zh_CN.utf8' ||
    fail "no zh_CN.UTF-8 locale: run deploy/install-deps.sh"

check "catalog complete"
stats=$(msgfmt --statistics -o /dev/null "$JP_SRC/po/zh_CN.po" 2>&1)
case "$stats" in
*untranslated* | *fuzzy*) fail "po/zh_CN.po: $stats" ;;
esac
# Every marked string of the sources is in the catalog.
pot="$T/jipan.pot"
X=(xgettext --from-code=UTF-8 --language=C --no-wrap --keyword=_ --keyword=N_
    --keyword=jp_tr --keyword=dngettext:2,3 --keyword=NW_:1c,2 -o "$pot")
(cd "$JP_SRC" && "${X[@]}" common/*.c client/*.c server/*.c audit/*.c 2>/dev/null &&
    "${X[@]}" --join-existing --keyword=s_count:3 --keyword=s_rate:3 --keyword=s_fixed:3 \
        --keyword=s_put:3 --keyword=S_TR common/report.c &&
    "${X[@]}" --join-existing --keyword=s_fail:2 common/validate.c)
msgcmp --use-untranslated "$JP_SRC/po/zh_CN.po" "$pot" 2>"$T/cmp" ||
    fail "strings marked in the sources but not in po/zh_CN.po: $(head -20 "$T/cmp")"

check "store"
new_store
C=$("$BIN" add customer --name 王小明 --phone 13800138000 --ext-id C001)
ok add vehicle --customer "$C" --vin LSVAM4189C2184512 --model 朗逸 \
    --delivered-at "$(date -d '-2 days' +%F)T10:00"

check "help"
zh --help >"$T/out"
has "$T/out" "用法：jipan-store"
has "$T/out" "今日工作：回访、提醒、跟进"
en --help >"$T/out"
has "$T/out" "usage: jipan-store"
has "$T/out" "the work list due today"

check "report"
zh report >"$T/zh"
en report >"$T/en"
for w in 忠诚度报表 基盘规模 保有客户 忠诚客户 有效客户 战败客户 首保回厂率 1小时内联系率 \
    区域集中度; do
    has "$T/zh" "$w"
done
hasnt "$T/zh" "first-maintenance return rate"
has "$T/en" "first-maintenance return rate"
# The same figures in both: every line's value columns (what follows its
# label and two spaces), in order.
nums() { perl -CS -ne 'if (/^\s*\S.*?\s{2,}(\d\S*(?:\s+\S+)*)\s*$/) { ($v = $1) =~ s/\s+/ /g; print "$v\n" }' "$1"; }
[ "$(nums "$T/zh" | wc -l)" -gt 20 ] || fail "too few figures in the Chinese report"
diff <(nums "$T/zh") <(nums "$T/en") >/dev/null ||
    fail "the figures differ between the languages: $(diff <(nums "$T/zh") <(nums "$T/en") | head)"

check "today"
zh today >"$T/out"
has "$T/out" "交车3日回访（未联系）"
has "$T/out" "交车 "
has "$T/out" "共 1 项"
has "$T/out" "138****8000"

check "show"
ok add service --customer "$C" --vin LSVAM4189C2184512 --service-type periodic \
    --mileage 12000 --amount 680
zh show "$C" >"$T/out"
for w in 姓名 电话 客户类别 车辆 时间线 维修保养 "定期保养, 12000 公里, 680.00 元"; do
    has "$T/out" "$w"
done
hasnt "$T/out" "periodic"
en show "$C" >"$T/out"
has "$T/out" "periodic, 12000 km, 680.00 yuan"

check "json and csv keep the schema's words"
zh report --format json >"$T/zh.json"
en report --format json >"$T/en.json"
# Only the instant of the report may differ.
diff <(grep -v '"as_of' "$T/zh.json") <(grep -v '"as_of' "$T/en.json") >/dev/null ||
    fail "JSON differs by locale"
zh today --format json >"$T/zh.json"
has "$T/zh.json" '"details": "delivered '
zh report --format csv >"$T/zh.csv"
hasnt "$T/zh.csv" "忠诚客户"

check "refusals"
set +e
zh add service --customer "$C" --vin LSVAM4189C2184512 --service-type periodic \
    --mileage abc 2>"$T/err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "exit $rc for a bad mileage"
has "$T/err" "--mileage: 须为整数"
set +e
zh add survey --customer "$C" --satisfaction 9 --repurchase high --recommend possible \
    2>"$T/err"
set -e
has "$T/err" "--satisfaction: 须在 1 到 5 之间"
set +e
en add survey --customer "$C" --satisfaction 9 --repurchase high --recommend possible \
    2>"$T/err"
set -e
has "$T/err" "--satisfaction: must be between 1 and 5"
echo "cli_zh: ok"
