# shellcheck shell=bash
# The sanitizer and fuzzing runs of scripts/test.sh (docs/testing.md). Both use clang; the
# builds are separate from build/ and lean: -O1, line tables only, only the targets run.
# Sourced after ctest_summary.sh, from the repository's top directory.

SAN_FLAGS=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=None
           "-DCMAKE_C_FLAGS=-O1 -gline-tables-only" "-DCMAKE_CXX_FLAGS=-O1 -gline-tables-only")

# Reports go to files as well as failing the process, so that a sanitizer finding in an agent
# an end-to-end test stops with SIGTERM is not lost; san_reports fails when any was written.
san_env() {
  local dir=$1
  rm -rf "$dir" && mkdir -p "$dir"
  # fast_unwind_on_malloc=0: OpenSSL has no frame pointers, and a leak suppression needs the
  # whole stack to see which library holds the allocation.
  export ASAN_OPTIONS="log_path=$dir/asan:detect_leaks=1:abort_on_error=0:strict_string_checks=1:fast_unwind_on_malloc=0"
  export UBSAN_OPTIONS="log_path=$dir/ubsan:print_stacktrace=1:halt_on_error=1:suppressions=$PWD/scripts/lib/ubsan.supp"
  # ignore_noninstrumented_modules: libcpprest, libspdlog and libstdc++ are not built with TSan, so
  # the reference counts and static guards inside them are invisible; without it a unit run
  # reported 430 races, every one with a frame of those libraries (docs/testing.md).
  export TSAN_OPTIONS="log_path=$dir/tsan:halt_on_error=0:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$PWD/scripts/lib/tsan.supp"
  export LSAN_OPTIONS="suppressions=$PWD/scripts/lib/lsan.supp"
}

san_reports() {
  local dir=$1 found=0 file
  for file in "$dir"/*; do
    # A file may hold only the list of suppressions used: that is no finding.
    grep -qE 'ERROR: |runtime error|WARNING: ThreadSanitizer' "$file" 2>/dev/null || continue
    echo "sanitizer report $file:"
    sed 's/^/    /' "$file" | head -60
    found=1
  done
  [ "$found" = 0 ]
}

# ASan+UBSan (and libFuzzer coverage, so --fuzz reuses the build): unit, BPF, one e2e test.
configure_asan() {
  cmake -S . -B build-asan "${SAN_FLAGS[@]}" -DBPFPROXY_SANITIZE=address,undefined -DBPFPROXY_FUZZ=ON >/dev/null
}

sanitize_asan() {
  configure_asan
  cmake --build build-asan -j "$(nproc)" --target core_unit_tests unit_tests bpf_tests bpfproxy ||
    { echo "FAIL  the ASan+UBSan build"; return 1; }
  local reports=$PWD/build-asan/sanitizer-reports rc=0
  san_env "$reports"
  (cd build-asan && SIM_BPFPROXY=$PWD/bpfproxy \
     ctest_counted --output-on-failure --timeout 900 -L 'unit|bpf|e2e' -R '^(unit|bpf):|reference_scenario' \
       -E 'unprivileged') || rc=$?  # that one runs as nobody, who cannot write the reports
  san_reports "$reports" || rc=1
  return "$rc"
}

# TSan: the unit tests of the parts that run threads.
sanitize_tsan() {
  cmake -S . -B build-tsan "${SAN_FLAGS[@]}" -DBPFPROXY_SANITIZE=thread >/dev/null
  cmake --build build-tsan -j "$(nproc)" --target core_unit_tests unit_tests ||
    { echo "FAIL  the TSan build"; return 1; }  # else ctest runs what an older build left
  local reports=$PWD/build-tsan/sanitizer-reports rc=0
  san_env "$reports"
  (cd build-tsan && ctest_counted --output-on-failure --timeout 900 -L unit \
     -R '^unit: ?(cluster store|kube source|manifests|metrics|health|http|api client|api permissions|an exception in the agent loop|a normal exit)') || rc=$?
  san_reports "$reports" || rc=1
  return "$rc"
}

# One target for SECONDS from a scratch copy of its seeds and kept crash inputs; prints a
# PASS or FAIL line. A crash leaves its input in build-asan/fuzz/crashes/<target>/.
# FUZZ_SEED (default 1) fixes libFuzzer's mutations, so a run repeats the start of any earlier
# run with that seed and a CI failure means a change, not luck; FUZZ_SEED=0 picks a random
# seed for exploring (docs/testing.md, "A long run").
fuzz_one() {
  local target=$1 seconds=$2 work=build-asan/fuzz/work/$1 log=build-asan/fuzz/$1.log
  local seed=${FUZZ_SEED:-1}
  rm -rf "$work" "build-asan/fuzz/crashes/$target" && mkdir -p "$work" "build-asan/fuzz/crashes/$target"
  cp fuzz/corpus/"$target"/* "$work"/
  if [ -d "fuzz/regressions/$target" ]; then cp fuzz/regressions/"$target"/* "$work"/; fi
  if build-asan/fuzz/fuzz_"$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -seed="$seed" \
       -artifact_prefix="build-asan/fuzz/crashes/$target/" -print_final_stats=1 "$work" >"$log" 2>&1; then
    echo "PASS  fuzz_$target: $(awk '/stat::number_of_executed_units/ {print $2}' "$log") runs in ${seconds}s (seed $(fuzz_seed_used "$log")), no crash"
    return 0
  fi
  echo "FAIL  fuzz_$target found a crash (seed $(fuzz_seed_used "$log")): $(ls "build-asan/fuzz/crashes/$target")"
  tail -40 "$log"
  echo "      reproduce: build-asan/fuzz/fuzz_$target build-asan/fuzz/crashes/$target/<file>;"
  echo "      after the fix keep it: cp build-asan/fuzz/crashes/$target/<file> fuzz/regressions/$target/<what-it-found>"
  return 1
}

# The seed libFuzzer used (it prints "Seed: N"; with -seed=0 the one it drew).
fuzz_seed_used() { awk '/Seed: / {print $NF; exit}' "$1"; }

# Every target for SECONDS each, JOBS at a time (libFuzzer uses one core per target); a
# crash fails the run.
# FUZZ_ONLY="a b" narrows the run to those targets.
read -ra FUZZ_TARGETS <<< "${FUZZ_ONLY:-manifests kube_objects watch_stream kubeconfig config command_line}"

# The fuzz targets' clang build alone (CI starts it beside the plain suite, which mostly waits).
fuzz_build() {
  configure_asan
  cmake --build build-asan -j "$(nproc)" --target "${FUZZ_TARGETS[@]/#/fuzz_}"
}

fuzz_all() {
  local seconds=$1 jobs=$2 target rc=0 running=0
  local names=("${FUZZ_TARGETS[@]}")
  fuzz_build || { echo "FAIL  the fuzz targets' build"; return 1; }
  # The suppressions of the unit runs (libraries not built here) hold here too.
  export ASAN_OPTIONS="detect_leaks=1" LSAN_OPTIONS="suppressions=$PWD/scripts/lib/lsan.supp"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$PWD/scripts/lib/ubsan.supp"
  echo "fuzz: ${#names[@]} targets, ${seconds}s each, $jobs at a time"
  for target in "${names[@]}"; do
    if [ "$running" -ge "$jobs" ]; then wait -n || rc=1; running=$((running - 1)); fi
    fuzz_one "$target" "$seconds" &
    running=$((running + 1))
  done
  while [ "$running" -gt 0 ]; do wait -n || rc=1; running=$((running - 1)); done
  return "$rc"
}
