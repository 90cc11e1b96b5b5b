#!/usr/bin/env bash
# dash_e2e.sh -- the group's dashboard (jipan-web) with real processes on
# 127.0.0.1: a server, four stores synced with generated data (two in
# 惠州), a group key and a region key enrolled, a jipan-web for each key,
# and a real browser (tests/dash_browser.py: chromium headless through
# chromedriver) that checks the pages' figures against jipan-query's for
# the same scope, drills down, downloads the workbook and the CSV, prints,
# and finds the region key's dashboard confined to its region.  Over HTTP
# before that: sign-in required, the security headers, Chart.js served
# from Debian's package, a POST without the CSRF token refused; a key the
# server does not know: jipan-web says it was refused and stops.  Screenshots in
# BUILD/dash-screens.
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"

for t in /usr/bin/chromium /usr/bin/chromedriver curl; do
    command -v "$t" >/dev/null || { echo "dash_e2e: $t missing (deploy/install-deps.sh)"; exit 77; }
done
[ -r /usr/share/javascript/chart.js/chart.min.js ] ||
    { echo "dash_e2e: libjs-chart.js missing (deploy/install-deps.sh)"; exit 77; }
W="$B/dash/jipan-web"
SHOTS="$B/dash-screens"
WPIDS=()

check setup
jp_group dash 26000
trap 'for p in "${WPIDS[@]}"; do kill "$p" 2>/dev/null || true; done; jp_server_stop; rm -rf "$T"' EXIT
"$B/tools/jipan-gen" --out "$T/gen" --stores 4 --customers 150 --seed 5 >/dev/null
jp_gen_stores "$T/gen"
"$B/client/jipan-query" keygen "$T/group.key" >"$T/group.pub"
"$B/client/jipan-query" keygen "$T/region.key" >"$T/region.pub"
"$B/client/jipan-query" keygen "$T/stranger.key" >/dev/null
SV enroll --role group --curve "$(cat "$T/group.pub")" >/dev/null
SV enroll --role "region:惠州" --curve "$(cat "$T/region.pub")" >/dev/null
jp_server_start
jp_first_sync st1 st2 st3 st4
echo "dash-pass-1234" | "$W" user add ana --users "$T/web-users" >/dev/null
[ "$(stat -c %a "$T/web-users")" = 600 ] || fail "the users file is not 0600"
grep -q '^ana:analyst:\$argon2id\$' "$T/web-users" || fail "no Argon2id hash: $(cat "$T/web-users")"

# web NAME KEY: start jipan-web with KEY on a free port; its address in $URL
web() {
    "$W" --key "$2" --server "tcp://127.0.0.1:$PORT" --server-key "$KEY" \
        --users "$T/web-users" --port 0 >"$T/$1.out" 2>"$T/$1.err" &
    WPIDS+=($!)
    for _ in $(seq 100); do grep -q '^serving' "$T/$1.out" 2>/dev/null && break; sleep 0.1; done
    URL=$(grep -o 'http://[0-9.:]*' "$T/$1.out") || fail "$1 did not start: $(cat "$T/$1.err")"
}

check "a key the server does not know"
rc=0
"$W" --key "$T/stranger.key" --server "tcp://127.0.0.1:$PORT" --server-key "$KEY" \
    --users "$T/web-users" --port 0 --timeout 2 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "refused this key at the handshake" "$T/err" ||
    fail "an unknown key: exit $rc, $(cat "$T/err")"

check "start a dashboard per key"
web group "$T/group.key"
GURL=$URL
grep -q 'serving the dashboard of group on' "$T/group.out" || fail "$(cat "$T/group.out")"
web region "$T/region.key"
RURL=$URL
grep -q 'serving the dashboard of region:惠州 on' "$T/region.out" || fail "$(cat "$T/region.out")"

check "over HTTP: sign-in first, headers, Chart.js, CSRF"
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$GURL/scope?s=group")
[ "$code" = "303 $GURL/login" ] || fail "no sign-in asked: $code"
curl -s -D "$T/h" -o /dev/null "$GURL/login"
grep -qi "^content-security-policy: default-src 'self'" "$T/h" || fail "no CSP: $(cat "$T/h")"
curl -s "$GURL/static/chart.js" | cmp -s - /usr/share/javascript/chart.js/chart.min.js ||
    fail "/static/chart.js is not Debian's Chart.js"
J="$T/jar"
pre=$(curl -s -c "$J" -b "$J" "$GURL/login" | grep -o 'name="pre" value="[0-9a-f]*"' | grep -o '[0-9a-f]\{64\}')
curl -s -c "$J" -b "$J" -o /dev/null --data "pre=$pre&user=ana&password=dash-pass-1234" "$GURL/login"
code=$(curl -s -b "$J" -o /dev/null -w '%{http_code}' --data "x=1" "$GURL/scope")
[ "$code" = 403 ] || fail "a POST without a CSRF token: $code"
curl -s -b "$J" -D "$T/h" -o "$T/f.csv" "$GURL/download?s=group&t=regional&f=csv"
grep -qi '^content-disposition: attachment; filename="jipan-regional-group-' "$T/h" ||
    fail "the CSV is not a download: $(cat "$T/h")"
head -1 "$T/f.csv" | grep -q '区县' || fail "the regional CSV: $(head -2 "$T/f.csv")"

check "browser"
rm -rf "$SHOTS"
/usr/bin/python3 "$JP_SRC/tests/dash_browser.py" "$GURL" "$RURL" ana dash-pass-1234 "$SHOTS" \
    "$B/client/jipan-query" --key "$T/group.key" --server "tcp://127.0.0.1:$PORT" \
    --server-key "$KEY" >"$T/py.out" 2>&1 || { cat "$T/py.out" >&2; fail "the browser test failed"; }
cat "$T/py.out"
for p in 01-login 02-group 03-region 04-store 05-trends 06-at-risk 07-cohort-form 08-cohort \
    09-english 10-region-key 11-region-refused 12-print; do
    [ -s "$SHOTS/dash-$p.png" ] || fail "no screenshot dash-$p"
done
grep -q "series group, 24 months" "$T/server.err" || fail "the charts did not ask the server for a series"
check "SIGTERM stops both, cleanly (no leak, nothing in their logs)"
for p in "${WPIDS[@]}"; do
    kill -TERM "$p"
    rc=0
    wait "$p" || rc=$?
    [ "$rc" -eq 0 ] || fail "jipan-web $p exited $rc"
done
WPIDS=()
for n in group region; do
    grep -q . "$T/$n.err" && fail "$n's log: $(cat "$T/$n.err")"
done
echo "dash_e2e: OK"
