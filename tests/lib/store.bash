# tests/lib/store.bash -- what the shell tests of one store share
# (cli_e2e.sh and the store_*.sh tests):
# the program, a temp dir removed at exit, a store in it, and the checks.
# Set NAME (the temp dir's name) and source it; JP_BIN (the build dir) and
# JP_SRC come from ctest.

BIN="${JP_BIN:?JP_BIN not set}/client/jipan-store"
GEN="$JP_BIN/tools/jipan-gen"
[ -x "$BIN" ] || { echo "FAIL: $BIN not built" >&2; exit 1; }

T=$(mktemp -d "/tmp/jp-$NAME.XXXXXX")
trap 'rm -rf "$T"' EXIT
export JIPAN_STORE_DIR="$T/store"
export JIPAN_USER=tester
unset TZ

CHECK="start"
fail() {
    echo "FAIL [$CHECK]: $*" >&2
    exit 1
}
check() { CHECK="$1"; echo "-- $1"; }

# run WANT ARGS...: run jipan-store; stdout in $T/out, stderr in $T/err;
# fail unless it exits WANT.
run() {
    local want=$1 got=0
    shift
    "$BIN" "$@" >"$T/out" 2>"$T/err" || got=$?
    if [ "$got" -ne "$want" ]; then
        echo "--- stdout" >&2; cat "$T/out" >&2
        echo "--- stderr" >&2; cat "$T/err" >&2
        fail "jipan-store $1 exited $got, wanted $want"
    fi
}
ok() { run 0 "$@"; }

# has FILE TEXT: FILE contains TEXT (fixed string); hasnt: it does not.
has() {
    grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "'$2' missing from $(basename "$1")"; }
}
hasnt() {
    if grep -qF -- "$2" "$1"; then cat "$1" >&2; fail "'$2' must not be in $(basename "$1")"; fi
}
log_len() { "$BIN" log | wc -l; }

# A new store 7 in $JIPAN_STORE_DIR.
new_store() {
    rm -rf "$JIPAN_STORE_DIR"
    ok init --store 7 --code HZ01 --name "惠州一店" --region 华南 --group 测试集团
}
