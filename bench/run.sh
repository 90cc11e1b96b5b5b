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
    echo "shared and noisy: figures are medians where a section says so, else one run."
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
    echo "records of the same average size, in transactions of the same size;"
    echo "and against an append of as many entries as the import left in all its"
    echo "databases (each record is a change, a state and its index entries)."
    echo "Targets: at least 200,000 records/s, and at least 25% of the raw append."
    echo
    echo '```'
    "$build/tools/jipan-gen" --out "$work/gen" --stores 1 --customers "$customers" 2>&1
    wc -l "$work"/gen/*/*.csv | sed 's#'"$work"'/gen/##'
    "$build/bench/jipan-bench-import" --data "$work/gen/HZ01" --rounds "$rounds"
    echo '```'
    echo
    echo "## Sync (issue: stores sync to the group server)"
    echo
    echo "\`bash bench/sync.sh\`: three stores push their generated bases (about 860,000"
    echo "changes in all) at once to"
    echo "one server over CurveZMQ on 127.0.0.1 (verify, merge, group log, signed"
    echo "receipt, links); the baseline is a raw LMDB append of as many records of"
    echo "the server log's average size, in the same run.  Then a store offline"
    echo "while 100,000 changes were made there pushes them in one sync, another"
    echo "store pulls them in one sync, and a sync with nothing to do is timed on"
    echo "an empty and on the full base.  Last, the group's report: the first one"
    echo "(load and figures), from a held base, and as of now while three more"
    echo "stores push (computed ahead with the live base; server-side times)."
    echo "Targets: 300,000 changes/s and 10% of the raw append; catch-up of"
    echo "100,000 changes under 2 s."
    echo
    echo '```'
    bash bench/sync.sh "$build" 2>&1 | grep -v '^jipan-gen'
    echo '```'
    echo
    echo "## Statistics (issue: group-wide loyalty statistics)"
    echo
    echo "\`jipan-bench-stats --db DIR\` on the environment of one store that imported"
    echo "\`jipan-gen --customers $customers\` (the import section's data): the full"
    echo "group report (load the base as of D, compute every figure) against a"
    echo "plain cursor scan of the same LMDB, and the figures from a base held in"
    echo "memory, which is what the server pays while nothing was merged since"
    echo "the last report (it keeps the base).  Target: 200 ms p99 at 1,000,000"
    echo "customers and 10,000,000 events; set JIPAN_BENCH_CUSTOMERS=1000000 for"
    echo "that size (about 6 GB of LMDB)."
    echo
    echo '```'
    mkdir -p "$work/statstore"
    "$build/client/jipan-store" -d "$work/statstore" init --store 1 --code HZ01 --name 基准 \
        --region 惠州 --group 基准集团 >/dev/null 2>&1
    "$build/client/jipan-store" -d "$work/statstore" import --customers "$work/gen/HZ01/customers.csv" \
        --vehicles "$work/gen/HZ01/vehicles.csv" --events "$work/gen/HZ01/events.csv" | tail -1
    "$build/bench/jipan-bench-stats" --db "$work/statstore" --rounds 20 | grep -v '^round'
    echo '```'
    if [ -x "$build/bench/jipan-bench-audit" ]; then
        audit_changes=${JIPAN_BENCH_AUDIT_CHANGES:-10000000}
        echo
        echo "## Audit (issue: auditors replay the logs)"
        echo
        echo "\`jipan-bench-audit --changes $audit_changes --dir $work\`: verify (every chain,"
        echo "batch signature) and replay of signed changes, against EVP SHA-256 of the"
        echo "same bytes in the same run.  Target: 1,000,000 changes/s verified."
        echo
        echo '```'
        "$build/bench/jipan-bench-audit" --changes "$audit_changes" --dir "$work" 2>&1
        echo '```'
    fi
} | tee "$out"
mkdir -p docs
mv "$out" docs/BENCHMARKS.md
echo "bench: wrote docs/BENCHMARKS.md"
