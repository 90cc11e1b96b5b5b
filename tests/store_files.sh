#!/usr/bin/env bash
# store_files.sh -- a file name that is not a regular file never hangs or
# confuses a program: a FIFO given to `jipan-store import`, `jipan-audit
# verify/replay/history` or `jipan-server -c` is refused at once (each run
# under a 10 s bound: before, each blocked for ever), a directory or
# /dev/null too, and a missing file exits as a FIFO or a directory does;
# a configuration setting outside any section is named as such.
set -euo pipefail
NAME=store-files
source "$(dirname "$0")/lib/store.bash"
AUD="$JP_BIN/audit/jipan-audit"
SRV="$JP_BIN/server/jipan-server"

new_store
mkfifo "$T/fifo"
mkdir "$T/dir"

# bounded WANT PROG ARGS...: PROG must end by itself within 10 s, exiting
# WANT; stderr in $T/err.
bounded() {
    local want=$1 got=0
    shift
    timeout -k 2 10 "$@" >"$T/out" 2>"$T/err" </dev/null || got=$?
    [ "$got" -ne 124 ] && [ "$got" -ne 137 ] || fail "$(basename "$1") $2 blocked on a FIFO"
    [ "$got" -eq "$want" ] || { cat "$T/err" >&2; fail "$(basename "$1") $2 exited $got, wanted $want"; }
}

check "import --customers FIFO is refused at once"
for opt in --customers --vehicles --events; do
    bounded 1 "$BIN" import $opt "$T/fifo"
    has "$T/err" "$opt $T/fifo: is a FIFO (named pipe), not a regular file"
done
hasnt "$T/out" "rows 0"

check "a directory and a missing CSV exit alike (1)"
bounded 1 "$BIN" import --customers "$T/dir"
has "$T/err" "is a directory, not a regular file"
bounded 1 "$BIN" import --customers "$T/missing.csv"
has "$T/err" "--customers $T/missing.csv: no such file"
[ "$(log_len)" -eq 0 ] || fail "a refused import wrote changes"

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    check "another user's store: permission denied, not 'not an initialised store'"
    chmod 755 "$T"
    bounded 1 setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" -d "$JIPAN_STORE_DIR" status
    has "$T/err" "permission denied: the store belongs to another user"
fi

check "jipan-audit refuses a FIFO, a directory and /dev/null, like a missing file"
bounded 3 "$AUD" verify "$T/missing.jpx"
for f in "$T/fifo" "$T/dir" /dev/null; do
    bounded 3 "$AUD" verify "$f"
    has "$T/err" "not a regular file"
    [ "$(wc -l <"$T/err")" -eq 1 ] || { cat "$T/err" >&2; fail "more than the one error line"; }
    [ ! -s "$T/out" ] || { cat "$T/out" >&2; fail "verify $f printed a report"; }
done
bounded 3 "$AUD" replay --as-of 2026-01-01 "$T/fifo"
has "$T/err" "is a FIFO"
bounded 3 "$AUD" history "$T/fifo" 01M8VQ0F8T001QCKQBAMS4ZKX2
has "$T/err" "is a FIFO"

check "jipan-server -c FIFO is refused at once"
bounded 1 "$SRV" -c "$T/fifo" status
has "$T/err" "configuration $T/fifo: is a FIFO (named pipe), not a regular file"
bounded 1 "$SRV" -c "$T/missing.conf" status
has "$T/err" "no such file"

check "a setting outside any section is named, with what to do"
printf 'data = %s/srv\n[server]\ngroup = g\n' "$T" >"$T/srv.conf"
bounded 1 "$SRV" -c "$T/srv.conf" status
has "$T/err" "srv.conf:1: 'data' is outside any section: put the settings under a [server] line"
hasnt "$T/err" "unknown section []"
echo "PASS"
