# shellcheck shell=bash
# Named checks for the end-to-end scripts: each prints PASS or FAIL with its name; the
# script ends with "N passed, M failed" and fails if any check did.
E2E_PASSED=0
E2E_FAILED=0

check() {
  local what=$1; shift
  if "$@"; then
    echo "PASS  $what"
    E2E_PASSED=$((E2E_PASSED + 1))
  else
    echo "FAIL  $what"
    E2E_FAILED=$((E2E_FAILED + 1))
  fi
}

e2e_finish() {
  echo "$E2E_PASSED passed, $E2E_FAILED failed"
  [ "$E2E_FAILED" -eq 0 ]
}

# require CMD...: a precondition; without it nothing after makes sense.
require() {
  "$@" || { echo "FAIL  precondition: $*"; E2E_FAILED=$((E2E_FAILED + 1)); exit 1; }
}
