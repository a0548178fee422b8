#!/usr/bin/env bash
# Proves the core library (objects, store, model, reconciler) needs none of the adapters'
# libraries: configures the source tree with BPFPROXY_CORE_ONLY, where libbpf, cpprestsdk,
# yaml-cpp, prometheus-cpp and OpenSSL are not looked for and their headers (forbidden/)
# stop the build with #error, then builds and runs the core's unit tests.
set -euo pipefail
source_dir=$1
build_dir=$2
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$source_dir" -B "$build_dir" -DBPFPROXY_CORE_ONLY=ON "${launcher[@]}" >/dev/null
cmake --build "$build_dir" --target core_unit_tests -j 2
# What the core links must name no adapter library.
if grep -Eq '(-l|/lib)(bpf|elf|cpprest|yaml-cpp|prometheus-cpp-[a-z]*|ssl|crypto)([.]| |$)' \
    "$build_dir"/tests/CMakeFiles/core_unit_tests.dir/link.txt; then
  echo "core_unit_tests links an adapter library:" >&2
  cat "$build_dir"/tests/CMakeFiles/core_unit_tests.dir/link.txt >&2
  exit 1
fi
"$build_dir"/tests/core_unit_tests
