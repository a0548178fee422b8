#!/usr/bin/env bash
# Installs the dependencies, builds, and runs the tests. Run as root on Debian 12.
#   scripts/test.sh [CTEST ARGS]   unit, BPF (BPF_PROG_TEST_RUN), deploy and end-to-end tests
#                                  in build/ (e.g. -L unit, -R reference)
#   scripts/test.sh --sanitize     ASan+UBSan build (build-asan/) of the unit, BPF and one
#                                  end-to-end test; TSan build (build-tsan/) of the threaded
#                                  unit tests (cluster store, sources, metrics, health servers)
#   scripts/test.sh --fuzz         each libFuzzer target for FUZZ_SECONDS (default 20), FUZZ_JOBS
#                                  (default: the cores) at a time, from its seeds and kept crash
#                                  inputs (build-asan/, shared with --sanitize), with libFuzzer
#                                  seed FUZZ_SEED (default 1; 0 = random); CI: 30 s, seed 1
# Each run ends with one line per ctest run: "ctest: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ctest_summary.sh
mode=normal
case "${1:-}" in
  --sanitize) mode=sanitize; shift ;;
  --fuzz) mode=fuzz; shift ;;
esac
scripts/setup.sh

if [ "$mode" = normal ]; then
  scripts/build.sh
  cd build
  ctest_counted --output-on-failure --timeout 900 "$@"
  exit
fi

source scripts/lib/sanitizers.sh
if [ "$mode" = sanitize ]; then
  sanitize_asan
  sanitize_tsan
else
  fuzz_all "${FUZZ_SECONDS:-20}" "${FUZZ_JOBS:-$(nproc)}"
fi
