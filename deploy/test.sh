#!/usr/bin/env bash
# The whole test suite: install what is needed, build with AddressSanitizer
# and UndefinedBehaviorSanitizer, run every test through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh

build=${JIPAN_TEST_BUILD:-build-asan}
cmake -S . -B "$build" -DJIPAN_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j"$(nproc)"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 600
