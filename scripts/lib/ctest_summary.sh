# shellcheck shell=bash
# ctest_counted ARGS...: runs ctest in the current directory, prints its output, and ends with
# "ctest: N passed, N failed, N skipped" (tests that did not run count as failed). Returns
# ctest's exit code. A skipped test is one that exited with its SKIP_RETURN_CODE.
ctest_counted() {
  local log rc=0
  log=$(mktemp /tmp/bpfproxy-ctest.XXXXXX)
  ctest "$@" 2>&1 | tee "$log" || rc=$?
  awk '
    / Test +#[0-9]+: / {
      if ($0 ~ /\*\*\*Skipped|  Skipped /) skipped++
      else if ($0 ~ / Passed /) passed++
      else failed++
    }
    END { printf "ctest: %d passed, %d failed, %d skipped\n", passed, failed, skipped }' "$log"
  rm -f "$log"
  return "$rc"
}
