#!/usr/bin/env bash
# fuzz/run.sh -- build the libFuzzer harnesses (fuzz/, -DJIPAN_FUZZ=ON,
# clang) and run each one for SECONDS, or FUZZ_RUNS executions, starting
# from its seed corpus in fuzz/corpus/.
#
# usage: bash fuzz/run.sh [SECONDS] [HARNESS...]
#   SECONDS   per harness (default 600); with FUZZ_RUNS=N, N executions instead
#   HARNESS   codec msg export audit import (default: all five)
# environment:
#   FUZZ_BUILD  the fuzz build directory (default build-fuzz in the tree)
#   FUZZ_WORK   where new inputs, crashes and logs go (default /tmp/jipan-fuzz);
#               the committed seed corpora are only read
#   FUZZ_RUNS   executions per harness instead of a time
#
# One line per harness: executions, executions per second, crashes.  A
# crash leaves its input in FUZZ_WORK/HARNESS/ (crash-*, leak-*, timeout-*)
# and the run exits 1; replay it with  build-fuzz/fuzz/fuzz_HARNESS FILE.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_EACH=${1:-600}
shift || true
HARNESSES=("$@")
((${#HARNESSES[@]})) || HARNESSES=(codec msg export audit import)
BUILD=${FUZZ_BUILD:-$SRC/build-fuzz}
WORK=${FUZZ_WORK:-/tmp/jipan-fuzz}
CC_FUZZ=${CC_FUZZ:-clang}

mkdir -p "$WORK"
command -v "$CC_FUZZ" >/dev/null ||
    { echo "fuzz: $CC_FUZZ not found: apt-get install clang libclang-rt-14-dev (or run deploy/install-deps.sh)" >&2; exit 1; }
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_C_COMPILER="$CC_FUZZ" -DJIPAN_FUZZ=ON \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$WORK/cmake.log" 2>&1 ||
        { cat "$WORK/cmake.log" >&2; exit 1; }
fi
targets=()
for h in "${HARNESSES[@]}"; do targets+=(--target "fuzz_$h"); done
cmake --build "$BUILD" -j2 "${targets[@]}" >"$WORK/build.log" 2>&1 ||
    { tail -40 "$WORK/build.log" >&2; exit 1; }

# Seeds of each harness, and the longest input it tries (bytes: changes
# and messages are small, an export needs room for a few records).
seeds() { case $1 in audit) echo export ;; *) echo "$1" ;; esac; }
maxlen() { case $1 in codec) echo 4096 ;; msg | import) echo 8192 ;; *) echo 16384 ;; esac; }

status=0
for h in "${HARNESSES[@]}"; do
    w="$WORK/$h"
    mkdir -p "$w/corpus"
    if [ -n "${FUZZ_RUNS:-}" ]; then limit=(-runs="$FUZZ_RUNS"); else limit=(-max_total_time="$SECONDS_EACH"); fi
    rc=0
    (cd "$w" && "$BUILD/fuzz/fuzz_$h" "${limit[@]}" -max_len="$(maxlen "$h")" -timeout=20 \
        -print_final_stats=1 -artifact_prefix="$w/" "$w/corpus" "$SRC/fuzz/corpus/$(seeds "$h")") \
        >"$w/log" 2>&1 || rc=$?
    execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$w/log")
    rate=$(awk '/stat::average_exec_per_sec/ { print $2 }' "$w/log")
    crashes=$(find "$w" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    echo "fuzz_$h: ${execs:-?} executions, ${rate:-?} exec/s, $crashes crashes (exit $rc; log $w/log)"
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        grep -E 'ERROR|property broken|runtime error|SUMMARY' "$w/log" | head -5 >&2 || true
        status=1
    fi
done
exit $status
