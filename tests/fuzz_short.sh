#!/usr/bin/env bash
# fuzz_short.sh -- a short run of every libFuzzer harness in fuzz/ (the
# change and record codec, the protocol messages, the export reader, the
# auditor, the CSV import), from the committed seed corpora: builds the
# fuzz tree with clang in the build directory and gives each harness
# FUZZ_SECONDS (default 8).  Any crash, sanitizer report or broken
# property fails the test; its input is kept in the work directory named.
# The long run is its own command: bash fuzz/run.sh [seconds].
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail

: "${JP_BIN:?JP_BIN not set}" "${JP_SRC:?JP_SRC not set}"
W=$(mktemp -d /tmp/jp-fuzz-short.XXXXXX)
trap 'if [ "${JP_KEEP:-}" = 1 ] || [ "${ok:-0}" != 1 ]; then echo "kept $W" >&2; else rm -rf "$W"; fi' EXIT
ok=0
FUZZ_BUILD="$JP_BIN/fuzz-build" FUZZ_WORK="$W" bash "$JP_SRC/fuzz/run.sh" "${FUZZ_SECONDS:-8}"
ok=1
