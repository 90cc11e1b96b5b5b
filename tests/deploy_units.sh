#!/usr/bin/env bash
# deploy_units.sh -- the systemd units of deploy/systemd pass
# `systemd-analyze verify` (with the built programs at the paths the units
# name), and the example configuration is one the server accepts.
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail
B="${JP_BIN:?}"
SRC="${JP_SRC:?}"
T=$(mktemp -d /tmp/jp-units.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (deploy/install-deps.sh installs systemd)"
# The units name /usr/local/bin; verify copies that name the build's programs.
for unit in jipan-server.service jipan-store@.service jipan-web.service; do
    sed -e "s#/usr/local/bin/jipan-server#$B/server/jipan-server#" \
        -e "s#/usr/local/bin/jipan-store#$B/client/jipan-store#" \
        -e "s#/usr/local/bin/jipan-web#$B/dash/jipan-web#" \
        "$SRC/deploy/systemd/$unit" >"$T/$unit"
done
cp "$T/jipan-store@.service" "$T/jipan-store@HZ01.service"
# verify warns about the unknown user on a build machine; errors fail it.
for unit in jipan-server.service jipan-store@HZ01.service jipan-web.service; do
    if ! SYSTEMD_LOG_LEVEL=err systemd-analyze verify --man=no "$T/$unit" 2>"$T/err"; then
        cat "$T/err" >&2
        fail "systemd-analyze verify $unit"
    fi
    if grep -v "Cannot add dependency job\|Failed to resolve\|jipan.*user\|No such process" "$T/err" | grep -q .; then
        cat "$T/err" >&2
        fail "systemd-analyze verify $unit reported problems"
    fi
done
grep -q '^Type=notify' "$SRC/deploy/systemd/jipan-server.service" || fail "the server unit is not Type=notify"

# The example configuration parses (its data directory is moved here).
sed -e "s#^data = .*#data = $T/srv#" -e "s#^endpoint = .*#endpoint = tcp://127.0.0.1:1#" \
    "$SRC/deploy/jipan-server.conf" >"$T/server.conf"
"$B/server/jipan-server" -c "$T/server.conf" init >/dev/null || fail "the example configuration is refused"
echo "bad = 1" >>"$T/server.conf"
rc=0
"$B/server/jipan-server" -c "$T/server.conf" stores >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "unknown setting 'bad'" "$T/err" || fail "an unknown setting is not refused by name (rc $rc)"
grep -q "server.conf:[0-9]*:" "$T/err" || fail "the refusal does not give the line"
echo "deploy_units: ok"
