#!/usr/bin/env bash
# The agent with exactly the capabilities the chart grants (securityContext.capabilities in
# helm/bpfproxy/values.yaml), as the container runtime would leave it: every other
# capability dropped from the bounding set before exec. It loads, attaches its socket hooks
# and TC programs, and ClusterIPs and NodePorts answer. And the capability list is needed:
# without CAP_BPF the agent stops with an error instead of running half-done.
source "$(dirname "$0")/preamble.sh"
command -v setpriv >/dev/null || { echo "skip: setpriv (util-linux) is not installed"; exit 77; }

# The chart's list, read from values.yaml so that the test follows it.
mapfile -t caps < <(python3 -c '
import sys, yaml
values = yaml.safe_load(open(sys.argv[1]))
print("\n".join(c.lower() for c in values["securityContext"]["capabilities"]))' "$here/../../helm/bpfproxy/values.yaml")
echo "      the chart's capabilities: ${caps[*]}"
bounding="-all$(printf ',+%s' "${caps[@]}")"

manifests=$(sim_manifests "$here/manifests" "$here/manifests_nodeport")
require sim_nodeport_cluster "$here/peer_echo.py"

# limited_agent NODE BOUNDING LOG: the agent in the node's namespace, capabilities limited.
limited_agent() {
  local node=$1 set=$2 log=$3 pin
  pin=$(sim_pin_dir "$node")
  [[ " ${SIM_PINS[*]} " == *" $pin "* ]] || SIM_PINS+=("$pin")
  nsenter --net="/run/netns/$SIM_TAG-$node" setpriv --bounding-set "$set" --inh-caps -all -- \
    "$SIM_BPFPROXY" agent --manifests "$manifests" --cgroup "$SIM_CG_ROOT/$node" --pin-dir "$pin" \
    --node-name "$node" --min-sync-period 0 --metrics-bind-address "" --healthz-bind-address "" \
    --service-cidr 10.32.0.0/24,fd00:32::/108 --devices ext0,eth0 >>"$log" 2>&1 &
  SIM_LAST_PID=$!
  SIM_PIDS+=("$SIM_LAST_PID")
}

echo "--- without CAP_BPF"
limited_agent node1 "-all,+net_admin,+perfmon" "$SIM_TMP/no-bpf.log"
no_bpf=$SIM_LAST_PID
require sim_wait_for "the agent without CAP_BPF to exit" 20 bash -c "! kill -0 $no_bpf 2>/dev/null"
wait "$no_bpf"
rc=$?
check "it exits with an error ($rc), not half-running" test "$rc" -ne 0
check "nothing is attached" test ! -e "$(sim_pin_dir node1)/links/bpx_connect4"

echo "--- with the chart's capabilities only"
limited_agent node1 "$bounding" "$SIM_TMP/agent-node1.log"
agent=$SIM_LAST_PID
limited_agent node2 "$bounding" "$SIM_TMP/agent-node2.log"
require sim_wait_for "node1's TC programs" 20 grep -q "attached bpx_tc_from_dev on ext0" "$SIM_TMP/agent-node1.log"
require sim_wait_for "node2's TC programs" 20 grep -q "attached bpx_tc_from_dev on ext0" "$SIM_TMP/agent-node2.log"
require sim_wait_for "the first sync" 20 grep -q "sync: .* 0 errors" "$SIM_TMP/agent-node1.log"
# Read once the agent runs: right after the fork, the PID may still be nsenter or setpriv
# with the caller's full set.
capabilities=$(awk '/^CapBnd/ { print $2 }' "/proc/$agent/status")
# linux/capability.h numbers of the capabilities the chart may list.
expected=$(python3 -c '
import sys
numbers = {"net_admin": 12, "net_raw": 13, "sys_admin": 21, "sys_resource": 24, "perfmon": 38, "bpf": 39}
print("%016x" % sum(1 << numbers[c] for c in sys.argv[1:]))' "${caps[@]}")
check "the agent's bounding set is exactly those ($capabilities)" test "$capabilities" = "$expected"
check "busybox -> ClusterIP 10.32.0.140 answers" sim_exec busybox curl -s --max-time 3 -o /dev/null http://10.32.0.140/
check "client -> node1:30080 (NodePort) answers" \
  bash -c "nsenter --net=/run/netns/$SIM_TAG-client curl -s --max-time 3 http://192.168.50.1:30080/ | grep -q 'pod nginx-'"
check "no error or permission denial in the log" \
  bash -c "! grep -Ei '\\[(error|critical)\\]|EPERM|Operation not permitted' '$SIM_TMP/agent-node1.log'"

e2e_finish
