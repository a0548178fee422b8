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

# Checks read state and counters, never log wording: these read them.
# metric_value URL NAME{LABELS}: the sample's value in a fresh scrape ("" when absent).
metric_value() { curl -s --max-time 2 "$1" | awk -v name="$2" '$1 == name { print $2 }'; }
# metric_is URL NAME{LABELS} VALUE / metric_at_least URL NAME{LABELS} MIN: compare as numbers.
metric_is() { local v; v=$(metric_value "$1" "$2"); [ -n "$v" ] && python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) == float(sys.argv[2]) else 1)" "$v" "$3"; }
metric_at_least() { local v; v=$(metric_value "$1" "$2"); [ -n "$v" ] && python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)" "$v" "$3"; }
# metric_sum URL NAME: the sum over every label set of NAME ("" when NAME has no sample).
metric_sum() { curl -s --max-time 2 "$1" | awk -v name="$2" '{ n = $1; sub(/\{.*/, "", n) } n == name { s += $2; seen = 1 } END { if (seen) print s }'; }
# metric_sum_at_least URL NAME MIN
metric_sum_at_least() { local v; v=$(metric_sum "$1" "$2"); [ -n "$v" ] && python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)" "$v" "$3"; }
# process_gone PID: the process has exited (an injected kill is checked to have happened).
process_gone() { ! kill -0 "$1" 2>/dev/null; }
# e2e_free_port: a free TCP port on 127.0.0.1.
e2e_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# require CMD...: a precondition; without it nothing after makes sense.
require() {
  "$@" || { echo "FAIL  precondition: $*"; E2E_FAILED=$((E2E_FAILED + 1)); exit 1; }
}

# Every end-to-end test needs root (namespaces, cgroups, bpffs). Without it the test cannot
# run: it reports SKIP to ctest (SKIP_RETURN_CODE 77), never a pass.
e2e_unavailable() {
  [ "$(id -u)" = 0 ] || { echo "not root"; return; }
  command -v ip >/dev/null || { echo "iproute2 not installed"; return; }
  [ -d /sys/fs/bpf ] || echo "no /sys/fs/bpf"
}
e2e_why=$(e2e_unavailable)
if [ -n "$e2e_why" ]; then
  echo "SKIP: $e2e_why"
  [ -n "${SIM_TMP:-}" ] && rm -rf "$SIM_TMP"
  exit 77
fi
unset e2e_why
