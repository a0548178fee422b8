#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test: unit, BPF (BPF_PROG_TEST_RUN) and
# end to end (network namespaces). Run as root on Debian 12. Extra arguments go to ctest
# (e.g. -L unit, -R reference).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 "$@"
