#!/usr/bin/env bash
# fuzz/make-corpus.sh -- write the seed corpora in fuzz/corpus/ from real
# data made by the real programs: a jipan-server and two jipan-stores on
# 127.0.0.1 import jipan-gen's CSV files (a few customers each), edit a
# record, sync; the group log (whole and a range) and a store's log are
# exported.  Then
#
#   corpus/export/  those three export files (fuzz_export, fuzz_audit)
#   corpus/codec/   changes and record states (jipan-fuzz-seeds, from the export)
#   corpus/msg/     one message of every type (jipan-fuzz-seeds)
#   corpus/import/  the stores' CSV files as fuzz_import reads them:
#                   flags byte | customers | NUL | vehicles | NUL | events
#
# usage: bash fuzz/make-corpus.sh [BUILD [FUZZ_BUILD]]
#   BUILD       a normal build with the programs (default build-asan)
#   FUZZ_BUILD  the -DJIPAN_FUZZ=ON build with jipan-fuzz-seeds (default build-fuzz)
# The old corpora are replaced.  Run it when a format changes.
set -euo pipefail

JP_SRC=$(cd "$(dirname "$0")/.." && pwd)
JP_BIN=$(cd "${1:-$JP_SRC/build-asan}" && pwd)
FB=$(cd "${2:-$JP_SRC/build-fuzz}" && pwd)
SEEDS="$FB/fuzz/jipan-fuzz-seeds"
[ -x "$SEEDS" ] || { # Empty files: a flags byte alone (customers.csv empty), and all three.
printf '\0' >"$C/import/empty-customers.csv3"
printf '\0\0\0' >"$C/import/empty-three.csv3"
echo "make-corpus: $SEEDS not built" >&2; exit 1; }
export JP_BIN JP_SRC
NAME=fuzz-corpus
. "$JP_SRC/tests/lib/sync.bash"
G="$T"
export JIPAN_USER=seeder

PORT=$(free_port $((19000 + $$ % 1000)))
cat >"$T/srv.ini" <<INI
[server]
endpoint = tcp://127.0.0.1:$PORT
data = $T/srv
group = 粤东集团
timezone = Asia/Shanghai
INI

check "a server and two stores with jipan-gen's data"
"$GEN" --out "$T/gen" --stores 2 --customers 4 --seed 7 >/dev/null
sv init
sv keys
SKEY=$(awk '$1 == "curve" { print $2 }' "$T/out")
codes=()
for d in "$T/gen"/*/; do codes+=("$(basename "$d")"); done
for n in 1 2; do
    c=${codes[$((n - 1))]}
    st "$n" 0 init --store "$n" --code "$c" --name "店$n" --region 惠州 --group 粤东集团
    st "$n" 0 keys
    sv enroll --store "$n" --code "$c" --name "店$n" --region 惠州 \
        --curve "$(awk '$1 == "curve" { print $2 }' "$T/out")" \
        --sign "$(awk '$1 == "sign" { print $2 }' "$T/out")"
    st "$n" 0 import --customers "$T/gen/$c/customers.csv" \
        --vehicles "$T/gen/$c/vehicles.csv" --events "$T/gen/$c/events.csv"
done
st 1 0 add customer --name 王五 --phone 13700137000 --created-at 2026-01-05
C1=$(cat "$T/out")
st 1 0 update "$C1" --name 王五五 --grade A

check "sync, exports"
"$SRV" -c "$T/srv.ini" run >"$T/srv.out" 2>"$T/srv.err" &
PIDS+=($!)
for ((i = 0; i < 200; i++)); do
    grep -q "^listening on " "$T/srv.out" && break
    sleep 0.1
done
grep -q "^listening on " "$T/srv.out" || fail "the server did not start"
for n in 1 2 1; do
    st "$n" 0 sync --server "tcp://127.0.0.1:$PORT" --server-key "$SKEY"
done
sv export -o "$T/group.jpx"
sv export --from 5 -o "$T/range.jpx"
st 1 0 export -o "$T/store1.jpx"

check "corpora"
C="$JP_SRC/fuzz/corpus"
rm -rf "$C/codec" "$C/msg" "$C/export" "$C/import"
mkdir -p "$C/export" "$C/import"
cp "$T/group.jpx" "$T/range.jpx" "$T/store1.jpx" "$C/export/"
"$SEEDS" "$T/group.jpx" "$C" >/dev/null
for n in 1 2; do
    d="$T/gen/${codes[$((n - 1))]}"
    for flags in 0 1 2; do
        { printf '%b' "\\x0$flags"; cat "$d/customers.csv"; printf '\0'; cat "$d/vehicles.csv"
          printf '\0'; cat "$d/events.csv"; } >"$C/import/store$n-flags$flags.csv3"
    done
    { printf '\0\xef\xbb\xbf'; cat "$d/customers.csv"; } >"$C/import/store$n-bom-customers.csv3"
done
# Empty files: a flags byte alone (customers.csv empty), and all three.
printf '\0' >"$C/import/empty-customers.csv3"
printf '\0\0\0' >"$C/import/empty-three.csv3"
echo "make-corpus: $(find "$C" -type f | wc -l) files, $(du -sk "$C" | cut -f1) KiB in $C"
