#!/usr/bin/env bash
# web_e2e.sh -- the counter's screens: `jipan-store web` on 127.0.0.1 with a
# users file made by `jipan-store web-user`, checked over HTTP (headers,
# sign-in, CSRF, nothing written by a refused form) and then in a real
# browser (tests/web_browser.py: chromium headless through chromedriver).
# The browser's screenshots are kept in $JP_BIN/web-screens.
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail

BIN="${JP_BIN:?JP_BIN not set}/client/jipan-store"
[ -x "$BIN" ] || { echo "FAIL: $BIN not built" >&2; exit 1; }
for t in /usr/bin/chromium /usr/bin/chromedriver curl; do
    command -v "$t" >/dev/null ||
        { echo "FAIL: $t missing (run deploy/install-deps.sh)" >&2; exit 1; }
done

T=$(mktemp -d /tmp/jp-web-e2e.XXXXXX)
SHOTS="$JP_BIN/web-screens"
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
export JIPAN_STORE_DIR="$T/store"
export JIPAN_USER=tester

CHECK="start"
fail() {
    echo "FAIL [$CHECK]: $*" >&2
    [ -f "$T/web.err" ] && { echo "--- server stderr" >&2; cat "$T/web.err" >&2; }
    exit 1
}
check() { CHECK="$1"; }
changes() { "$BIN" log | grep -c . || true; }

check "store"
"$BIN" init --store 1 --code HZ01 --name 惠州一店 --region 惠州 --group 粤东集团 >/dev/null
C1=$("$BIN" add customer --name 王小明 --phone 13800138000 --id-number 441302198001010023 \
    --district 惠城区 --ext-id C001)
"$BIN" add vehicle --customer "$C1" --vin LSVAM4189C2184512 --model 朗逸 --plate 粤L12345 \
    --delivered-at 2025-01-05 >/dev/null
C2=$("$BIN" add customer --name 王芳 --phone 13900139000 --ext-id C002 \
    --created-at "$(date -d '-30 days' +%F)")
# Delivered two days ago: a day-3 call is due today.
"$BIN" add vehicle --customer "$C2" --vin LFV2A21K0G3012345 --model 速腾 \
    --delivered-at "$(date -d '-2 days' +%F)T10:00" >/dev/null
"$BIN" add customer --name 李四 --phone 13700137000 --ext-id C003 >/dev/null

check "web-user"
echo "short" | "$BIN" web-user add ada 2>"$T/err" && fail "a 5-byte password was taken"
grep -q "8 to 128 bytes" "$T/err" || fail "no reason: $(cat "$T/err")"
echo "counter-pass-1" | "$BIN" web-user add ada >/dev/null
echo "counter-pass-1" | "$BIN" web-user add ada 2>/dev/null && fail "a second ada"
echo "manager-pass-1" | "$BIN" web-user add mgr --role manager >/dev/null
grep -q '^ada:adviser:\$argon2id\$' "$JIPAN_STORE_DIR/web-users" || fail "no Argon2id hash"
grep -q 'counter-pass-1' "$JIPAN_STORE_DIR/web-users" && fail "a password in clear"
[ "$(stat -c %a "$JIPAN_STORE_DIR/web-users")" = 600 ] || fail "users file not 0600"
echo "manager-pass-2" | "$BIN" web-user passwd mgr >/dev/null
"$BIN" web-user remove mgr >/dev/null
grep -q '^mgr:' "$JIPAN_STORE_DIR/web-users" && fail "mgr not removed"

check "serve"
# Under a Chinese locale, as on a store's PC: the pages keep their own
# language (the messages of `add` stay the reference words beside it).
LANG=zh_CN.UTF-8 "$BIN" web --port 0 >"$T/web.out" 2>"$T/web.err" &
PID=$!
for _ in $(seq 50); do
    grep -q '^serving' "$T/web.out" 2>/dev/null && break
    sleep 0.1
done
URL=$(sed -n 's|^serving HZ01 on \(http://127.0.0.1:[0-9]*\)/$|\1|p' "$T/web.out")
[ -n "$URL" ] || fail "no address printed: $(cat "$T/web.out")"

check "headers"
curl -s -D "$T/h" -o /dev/null "$URL/login"
grep -qi "^Content-Security-Policy: default-src 'self'" "$T/h" || fail "no CSP"
grep -qi '^X-Content-Type-Options: nosniff' "$T/h" || fail "no nosniff"
grep -qi '^Cache-Control: no-store' "$T/h" || fail "cacheable"
curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$URL/card?id=x" >"$T/code"
grep -q "^303 $URL/login$" "$T/code" || fail "no sign-in asked: $(cat "$T/code")"

check "sign in over HTTP"
J="$T/jar"
curl -s -c "$J" -b "$J" -o /dev/null -w '%{http_code}' \
    --data "pre=0000&user=ada&password=counter-pass-1" "$URL/login" >"$T/code"
[ "$(cat "$T/code")" = 403 ] || fail "a forged sign-in form was taken"
grep -q jp_session "$J" && fail "a forged sign-in form made a session"
curl -s -c "$J" -b "$J" "$URL/login" >"$T/login.html"
PRE=$(grep -o 'name="pre" value="[0-9a-f]*"' "$T/login.html" | grep -o '[0-9a-f]\{64\}')
curl -s -o /dev/null -c "$J" -b "$J" -D "$T/h" \
    --data "pre=$PRE&user=ada&password=counter-pass-1" "$URL/login"
grep -qi '^Set-Cookie: jp_session=[0-9a-f]\{64\}; HttpOnly; SameSite=Strict; Path=/' "$T/h" ||
    fail "session cookie: $(grep -i set-cookie "$T/h")"

check "csrf"
N0=$(changes)
curl -s -o /dev/null -b "$J" -w '%{http_code}' \
    --data "customer=$C1&vin=LSVAM4189C2184512&service_type=periodic" "$URL/service" >"$T/code"
[ "$(cat "$T/code")" = 403 ] || fail "a POST without a CSRF token: $(cat "$T/code")"
curl -s -o /dev/null -b "$J" -w '%{http_code}' \
    --data "csrf=$(printf '0%.0s' $(seq 64))&customer=$C1&vin=LSVAM4189C2184512&service_type=periodic" \
    "$URL/service" >"$T/code"
[ "$(cat "$T/code")" = 403 ] || fail "a POST with a wrong CSRF token: $(cat "$T/code")"
[ "$(changes)" = "$N0" ] || fail "a refused POST wrote"

check "escaping"
curl -s -b "$J" "$URL/?q=%3Cscript%3Ealert(1)%3C/script%3E" >"$T/x.html"
grep -q '<script>' "$T/x.html" && fail "the search text reached the page unescaped"
grep -q '&lt;script&gt;' "$T/x.html" || fail "the search text is not shown back"

check "browser"
/usr/bin/python3 "$JP_SRC/tests/web_browser.py" "$URL" ada counter-pass-1 "$SHOTS" >"$T/py.out" 2>&1 ||
    { cat "$T/py.out" >&2; fail "the browser test failed"; }
cat "$T/py.out"

check "the visit is in show"
N1=$(changes)
[ "$N1" = $((N0 + 4)) ] ||
    fail "the browser wrote $((N1 - N0)) changes, wanted 4 (visit, complaint, its contact, call)"
"$BIN" show "$C1" >"$T/show"
grep -q 'service \+periodic, 12000 km, 680.00 yuan, VIN LSVAM4189C2184512' "$T/show" ||
    fail "show: $(cat "$T/show")"
grep -q 'complaint_contact' "$T/show" || fail "no complaint contact in show: $(cat "$T/show")"
"$BIN" log | tail -1 | grep -q 'ada' || fail "the change's author is not the signed-in user: $("$BIN" log | tail -1)"
"$BIN" log | tail -1 | grep -q 'contact' || fail "the call is not the last change"
"$BIN" show "$C2" | grep -q 'contact \+phone, day3' || fail "the call: $("$BIN" show "$C2")"
"$BIN" today | grep -q 王芳 && fail "today still lists the call made"
for p in 01-login 02-search-phone 03-search-name 04-card 05-service-refused \
    06-service-saved 07-today 08-today-called 09-report 10-survey-refused; do
    [ -s "$SHOTS/$p.png" ] || fail "no screenshot $p"
done

check "what was typed never goes into an address"
# The customer named by phone: the visit is written, and the card it leads
# to is named by the new record's id, not by the number.
CS=$(curl -s -b "$J" "$URL/" | grep -o 'name="csrf" value="[0-9a-f]*"' | head -1 |
    grep -o '[0-9a-f]\{64\}')
curl -s -o /dev/null -D "$T/h" -b "$J" \
    --data "csrf=$CS&customer=13800138000&vin=LSVAM4189C2184512&service_type=repair" \
    "$URL/service"
grep -q 13800138000 "$T/h" && fail "a phone in the answer's headers: $(grep -i location "$T/h")"
grep -qi '^Location: /card?id=[0-9A-Z]\{26\}&saved=1' "$T/h" ||
    fail "no redirect to the card: $(cat "$T/h")"
[ "$(changes)" = $((N1 + 1)) ] || fail "the visit by phone was not written once"

check "a long work list"
# 105 day-3 calls due: the page shows 100 of them and says how many there
# are (a generated store's list ran to 32 MB before).
/usr/bin/python3 - "$T" "$(date -d '-2 days' +%F)" <<'PY'
import sys
t, day = sys.argv[1], sys.argv[2]
val = dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", [1,2,3,4,5,6,7,8,1,2,3,4,5,7,9,2,3,4,5,6,7,8,9]))
w = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
def vin(i):
    v = "LSVAM418%s%s%06d" % ("0", "C2", i)
    s = sum((int(c) if c.isdigit() else val[c]) * w[k] for k, c in enumerate(v))
    d = s % 11
    return v[:8] + ("X" if d == 10 else str(d)) + v[9:]
with open(t + "/c.csv", "w") as c, open(t + "/v.csv", "w") as v, open(t + "/e.csv", "w") as e:
    c.write("ext_id,name,phone,id_number,birthday,district,source,grade,created_at,referred_by\n")
    v.write("vin,customer_ext_id,model,plate,delivered_at,price,sale_kind\n")
    e.write("ext_id,customer_ext_id,kind,at,vin,service_type,mileage,amount,channel,purpose,"
            "severity,subject,complaint_ext_id,satisfaction,repurchase,recommend,"
            "referred_ext_id,reason,grade\n")
    for i in range(105):
        c.write("L%03d,车主%03d,136%08d,,,惠城区,walk_in,,%sT09:00:00+08:00,\n" % (i, i, i, day))
        v.write("%s,L%03d,朗逸,,%sT10:00:00+08:00,,new\n" % (vin(i), i, day))
PY
"$BIN" import --customers "$T/c.csv" --vehicles "$T/v.csv" --events "$T/e.csv" >"$T/imp" 2>&1 ||
    fail "import: $(cat "$T/imp")"
curl -s -b "$J" "$URL/today" >"$T/today.html"
grep -q '<p class="more">显示前 100 条，共 105 条' "$T/today.html" ||
    fail "no count of the lines not shown: $(grep -o '<h2>[^<]*</h2>' "$T/today.html")"
rows=$(sed 's/<table id="due-day3">/\n&/' "$T/today.html" | sed -n 2p | sed 's|</table>.*||' |
    grep -o '<tr><td>' | wc -l)
[ "$rows" = 100 ] || fail "the day-3 section shows $rows lines, wanted 100"

check "stop"
kill -TERM "$PID"
wait "$PID" || fail "the server exited $? on SIGTERM"
PID=
grep -q . "$T/web.err" && fail "the server wrote to stderr"
grep -q -e 13800138000 -e 441302198001010023 "$T/web.out" "$T/web.err" && fail "personal data logged"
echo "web_e2e: all checks passed"
