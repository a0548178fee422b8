#!/usr/bin/env bash
# One rule set on both paths (issue 9, section 2), end to end on the two-node simulation
# with a LAN and an external client: refusals of unallocated and deleted ClusterIPs,
# loadBalancerSourceRanges for pods, externalTrafficPolicy Local for pods, NodePorts on
# every local address (and one added while running), externalIPs no node holds,
# sessionAffinity on the per-packet path, and DNS answers larger than the MTU through a
# NodePort (IP fragments).
source "$(dirname "$0")/preamble.sh"
source "$here/datapath_helpers.sh"

manifests=$(sim_manifests "$here/manifests" "$here/manifests_nodeport" "$here/manifests_semantics")
require sim_nodeport_cluster "$here/peer_echo.py"
sim_ext client ip route add 203.0.113.0/24 via 192.168.50.1
sim_ext client ip route add 198.51.100.0/24 via 192.168.50.1
# A DNS server whose answer for big.test (12 strings of 250 bytes) needs EDNS and fragments.
txt=$(python3 -c 'print(",".join(chr(97 + i) * 250 for i in range(12)))')
sim_spawn busybox "$SIM_TMP/bigdns.log" dnsmasq --keep-in-foreground --no-resolv --no-hosts \
  --port=5353 --user=root --pid-file="$SIM_TMP/bigdns.pid" --edns-packet-max=4096 \
  --txt-record="big.test,$txt" --log-facility=-
for node in node1 node2; do
  sim_agent_tc "$node" "$manifests" --service-cidr 10.32.0.0/24,fd00:32::/108 \
    --devices ext0,eth0 --pod-devices 'h*'
done

pin1=$(sim_pin_dir node1)
pod_curl_exit() { sim_exec busybox curl -s -o /dev/null --max-time "${2:-3}" "$1"; echo $?; }
pod_answer() { sim_exec busybox curl -s --max-time 3 "$1" | grep -o 'pod nginx-[0-9]'; }
ext_answer() { sim_ext client curl -s --max-time 3 "$1" | grep -o 'pod nginx-[0-9]'; }
pods_answering() {  # COUNT FETCH URL: the distinct pods that answered COUNT requests
  local i
  for ((i = 0; i < $1; i++)); do "$2" "$3"; done | sort -u | tr '\n' ' '
}
# A process of node1 itself: node1's namespace, a cgroup under node1's (the hooks' cgroup).
host_cg="$SIM_CG_ROOT/node1/host-process"
mkdir -p "$host_cg" && SIM_CGROUPS+=("$host_cg")
node_answer() {
  sh -c 'echo $$ > "$1/cgroup.procs" && exec nsenter --net="/run/netns/$2" curl -s --max-time 3 "$3"' \
    -- "$host_cg" "$SIM_TAG-node1" "$1" | grep -o 'pod nginx-[0-9]'
}

require sim_wait_for "node1's agent to attach its TC programs" 20 grep -q "attached bpx_tc_from_dev on ext0" "$SIM_TMP/agent-node1.log"
require sim_wait_for "node2's agent to attach its TC programs" 20 grep -q "attached bpx_tc_from_dev on ext0" "$SIM_TMP/agent-node2.log"
require sim_wait_for "the Services to be programmed" 20 programmed "$pin1" "10.32.0.174:80"
require sim_wait_for "the echo pods to listen" 10 sim_exec busybox curl -s --max-time 1 http://10.200.128.1:8080/

echo "--- refusals on the socket path"
start=$(date +%s%N)
check "a pod's connect to an unallocated service-CIDR address is refused (curl exit 7)" \
  test "$(pod_curl_exit http://10.32.0.99/)" = 7
check "... at once, not after a timeout" test $(( ($(date +%s%N) - start) / 1000000 )) -lt 1000
check "counted as unallocated" test "$(counter "$pin1" DROP_UNALLOCATED)" -ge 1
check "the Service about to be deleted answers" grep -q "pod nginx-2" <(pod_answer http://10.32.0.174/)
rm "$manifests/doomed.yaml"
require sim_wait_for "the deleted Service to leave the maps" 10 sh -c "! \"$SIM_BPFPROXY\" service list --pin-dir $pin1 -o json | grep -q 10.32.0.174:80"
check "a deleted Service is refused from the moment its entry goes" \
  test "$(pod_curl_exit http://10.32.0.174/)" = 7

echo "--- loadBalancerSourceRanges for pods (socket path)"
check "an LB IP whose ranges hold the pod CIDR answers the pod" grep -q "pod nginx-2" <(pod_answer http://203.0.113.12/)
check "an LB IP whose ranges exclude pods refuses the pod" test "$(pod_curl_exit http://203.0.113.11/)" = 7
check "the refusal is counted" test "$(counter "$pin1" DROP_SRC_RANGE)" -ge 1
check "the LAN client is still refused by the pods-only LB IP (TC drop)" \
  test "$(sim_ext client curl -s -o /dev/null --max-time 2 http://203.0.113.12/; echo $?)" = 28

echo "--- externalTrafficPolicy Local restricts only outside clients"
check "a pod reaching node1's Local NodePort (no endpoint on node1) is served" \
  grep -q "pod nginx-2" <(pod_answer http://192.168.50.1:30081/)
check "the node itself too" grep -q "pod nginx-2" <(node_answer http://192.168.50.1:30081/)
check "an outside client at node1's Local NodePort is still dropped" \
  test "$(sim_ext client curl -s -o /dev/null --max-time 2 http://192.168.50.1:30081/; echo $?)" = 28

echo "--- NodePorts on every local address of the node"
check "a pod reaches the NodePort on node1's bridge address (no --devices interface)" \
  grep -q "pod nginx-" <(pod_answer http://10.200.127.254:30080/)
check "node1 itself reaches it there" grep -q "pod nginx-" <(node_answer http://10.200.127.254:30080/)
check "an address not yet on the node is no NodePort" test "$(pod_curl_exit http://10.77.0.1:30080/ 1)" != 0
sim_in node1 ip addr add 10.77.0.1/32 dev lo
added=""
for _ in $(seq 20); do  # the agent re-reads the node's addresses every second
  if [ "$(pod_curl_exit http://10.77.0.1:30080/ 1)" = 0 ]; then added=yes; break; fi
  sleep 0.25
done
check "an address added to the node answers NodePorts within seconds" test -n "$added"
sim_in node1 ip addr del 10.77.0.1/32 dev lo

echo "--- externalIPs no node holds"
check "a pod reaches an externalIP assigned to no node" grep -q "pod nginx-2" <(pod_answer http://198.51.100.20/)
check "the LAN client reaches it through node1" grep -q "pod nginx-2" <(ext_answer http://198.51.100.20/)

echo "--- sessionAffinity ClientIP on both paths"
ext_seen=$(pods_answering 12 ext_answer http://192.168.50.1:30090/)
check "an outside client keeps one backend through node1's NodePort ($ext_seen)" test "$(wc -w <<<"$ext_seen")" = 2
pod_seen=$(pods_answering 12 pod_answer http://10.32.0.170/)
check "a pod keeps one backend through the ClusterIP ($pod_seen)" test "$(wc -w <<<"$pod_seen")" = 2
check "the pod's entry is keyed by its address" \
  grep -q '"client": *"10.200.0.10"' <("$SIM_BPFPROXY" affinity list --pin-dir "$pin1" -o json)

echo "--- DNS answers larger than the MTU through a NodePort (fragments)"
answer=$(sim_ext client dig +bufsize=4096 +notcp +ignore +time=3 +tries=1 -p 30053 @192.168.50.1 big.test TXT)
echo "$answer" | grep -v "^;" | grep . | cut -c1-100 | sed "s/^/      /"
check "the whole answer arrives ($(grep -o 'MSG SIZE  rcvd: [0-9]*' <<<"$answer"))" \
  test "$(grep -o 'MSG SIZE  rcvd: [0-9]*' <<<"$answer" | grep -o '[0-9]*$')" -gt 1500
check "every string of it" test "$(python3 -c 'import re,sys; print(len(set(re.findall(r"\"(([a-l])\2{249})\"", sys.stdin.read()))))' <<<"$answer")" = 12
check "its later fragments were translated (TC_FRAGMENT)" test "$(counter "$pin1" TC_FRAGMENT)" -ge 1

e2e_finish
