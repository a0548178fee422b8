#!/usr/bin/env bash
# Honest skips (issue 11), checked rather than assumed: as an unprivileged user (nobody, no
# capabilities) the BPF test binary and an end-to-end script exit with ctest's
# SKIP_RETURN_CODE (77), name each skipped case and why, fail nothing, and never exit 0;
# and test discovery (--list-test-cases) lists the same cases as it does for root.
# Usage: unprivileged_skip_test.sh BPF_TESTS E2E_SCRIPT. Needs root to become nobody.
set -uo pipefail
bpf_tests=$(realpath "$1") e2e_script=$(realpath "$2")
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root to switch to an unprivileged user (setpriv)"
  exit 77
fi
failed=0
check() {  # check WHAT CONDITION...
  local what=$1; shift
  if "$@"; then echo "PASS  $what"; else echo "FAIL  $what"; failed=1; fi
}
as_nobody() {
  (cd / && setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all "$@")
}
out=$(mktemp /tmp/bpfproxy-skip.XXXXXX)
trap 'rm -f "$out"' EXIT

as_nobody "$bpf_tests" >"$out" 2>&1
rc=$?
check "bpf_tests as nobody exits 77 (skipped): $rc" [ "$rc" = 77 ]
skips=$(grep -c '^SKIP: .*: not root$' "$out")
check "bpf_tests as nobody names each skipped case and why ($skips)" [ "$skips" -gt 0 ]
check "bpf_tests as nobody fails nothing" grep -q '| 0 failed |' "$out"

listed_root=$("$bpf_tests" --list-test-cases | grep -c '^[^=[]')
listed_nobody=$(as_nobody "$bpf_tests" --list-test-cases | grep -c '^[^=[]')
check "discovery lists every case without privilege ($listed_nobody of $listed_root)" \
  test "$listed_root" -gt 0 -a "$listed_nobody" = "$listed_root"

as_nobody bash "$e2e_script" >"$out" 2>&1
rc=$?
check "$(basename "$e2e_script") as nobody exits 77 (skipped): $rc" [ "$rc" = 77 ]
check "$(basename "$e2e_script") as nobody says why" grep -q '^SKIP: not root' "$out"
exit "$failed"
