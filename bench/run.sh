#!/usr/bin/env bash
# The benchmark suite: builds a Release tree, runs every benchmark, prints
# each figure with its same-run baseline, and writes docs/BENCHMARKS.md.
# Separate from the tests: it takes minutes and wants a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh >/dev/null
build=build-release
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DJIPAN_SANITIZE=OFF -DJIPAN_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

customers=${JIPAN_BENCH_CUSTOMERS:-100000}
rounds=${JIPAN_BENCH_ROUNDS:-3}
work=$(mktemp -d /tmp/jipan-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

out=$(mktemp)
{
    echo "# Benchmarks"
    echo
    echo "Written by \`bash bench/run.sh\` on $(date -u +%Y-%m-%d) (UTC). Every ratio compares"
    echo "two figures measured in the same run on the same machine; these machines are"
    echo "shared and noisy, so each figure is the median of $rounds rounds."
    echo
    echo "## Machine"
    echo
    echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
    echo "- memory: $(free -g | awk '/Mem:/ {print $2}') GiB; disk: $(df -h /tmp | awk 'NR==2 {print $2}') at /tmp"
    echo "- $(uname -sr); LMDB $(pkg-config --modversion lmdb); OpenSSL $(pkg-config --modversion libcrypto)"
    echo
    echo "## Import (issue: the store works offline)"
    echo
    echo "\`jipan-gen --stores 1 --customers $customers\`, then"
    echo "\`jipan-bench-import --data DIR --rounds $rounds\`: a full import (parse,"
    echo "validate, changes, hash chain, log, state, indexes, commits) into a fresh"
    echo "store, against a raw LMDB append (MDB_APPEND, sequential keys) of as many"
    echo "records of the same average size, in transactions of the same size."
    echo "Targets: at least 200,000 records/s, and at least 25% of the raw append."
    echo
    echo '```'
    "$build/tools/jipan-gen" --out "$work/gen" --stores 1 --customers "$customers" 2>&1
    wc -l "$work"/gen/*/*.csv | sed 's#'"$work"'/gen/##'
    "$build/bench/jipan-bench-import" --data "$work/gen/HZ01" --rounds "$rounds"
    echo '```'
} | tee "$out"
mkdir -p docs
mv "$out" docs/BENCHMARKS.md
echo "bench: wrote docs/BENCHMARKS.md"
