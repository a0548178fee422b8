#!/usr/bin/env bash
# The per-packet datapath end to end: the two-node simulated cluster plus a LAN with an
# external client. Agents run inside the node namespaces with their TC programs on the
# nodes' devices (ext0 to the LAN, eth0 between nodes) and pod-facing veths.
source "$(dirname "$0")/preamble.sh"
source "$here/datapath_helpers.sh"

manifests=$(sim_manifests "$here/manifests" "$here/manifests_nodeport")
require sim_nodeport_cluster "$here/peer_echo.py"
# The client reaches the cluster's load-balancer and service addresses through node1.
sim_ext client ip route add 203.0.113.0/24 via 192.168.50.1
sim_ext client ip route add 10.32.0.0/24 via 192.168.50.1
for node in node1 node2; do
  sim_agent_tc "$node" "$manifests" --service-cidr 10.32.0.0/24,fd00:32::/108 \
    --devices ext0,eth0 --pod-devices 'h*'
done

pin1=$(sim_pin_dir node1)
tc_attached() {  # NODE: the agent's TC program on ext0's ingress is attached (links/tc/ext0-ingress),
  # as seen from the node's namespace, where its devices are
  sim_in "$1" "$SIM_BPFPROXY" status --pin-dir "$(sim_pin_dir "$1")" --healthz-address "" -o json 2>/dev/null |
    python3 -c "import json,sys; p=json.load(sys.stdin)['programs']; sys.exit(0 if any(x['program']=='tc/ext0-ingress' and x['attached'] for x in p) else 1)"
}
opted_out() {  # PIN: cgroups taken off the socket hooks (entries of bpx_optout_v1)
  bpftool -j map dump pinned "$1/maps/bpx_optout_v1" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0
}
ext_curl() { sim_ext client curl -s --max-time "${2:-3}" "$1"; }
ext_curl_exit() { sim_ext client curl -s -o /dev/null --max-time "${2:-3}" "$1"; echo $?; }
pods_answering() {  # COUNT URL
  local i
  for ((i = 0; i < $1; i++)); do ext_curl "$2" | grep -o 'pod nginx-[0-9]'; done | sort -u | tr '\n' ' '
}

require sim_wait_for "node1's agent to attach its TC programs" 20 tc_attached node1
require sim_wait_for "node2's agent to attach its TC programs" 20 tc_attached node2
require sim_wait_for "the NodePort to be programmed" 20 programmed "$pin1" "0.0.0.0:30080"
require sim_wait_for "the echo pods to listen" 10 sim_exec busybox curl -s --max-time 1 http://10.200.128.1:8080/

echo "--- NodePort from outside the cluster"
check "client -> node1:30080 reaches pods on both nodes" \
  test "$(pods_answering 30 http://192.168.50.1:30080/)" = "pod nginx-1 pod nginx-2 "
check "client -> node2:30080 reaches pods on both nodes" \
  test "$(pods_answering 30 http://192.168.50.2:30080/)" = "pod nginx-1 pod nginx-2 "

echo "--- externalTrafficPolicy Cluster versus Local"
remote_peer=""
for _ in $(seq 30); do
  answer=$(ext_curl http://192.168.50.1:30080/)
  case "$answer" in "pod nginx-2 peer "*) remote_peer=${answer#pod nginx-2 peer }; break ;; esac
done
check "Cluster: the backend on node2 sees node1's address, not the client's ($remote_peer)" \
  test "$remote_peer" = "::ffff:192.168.50.1"
local_answer=$(ext_curl http://192.168.50.2:30081/)
check "Local: node2's own endpoint sees the client's address ($local_answer)" \
  test "$local_answer" = "pod nginx-2 peer ::ffff:192.168.50.100"
check "Local: node1 has no endpoint and drops (curl times out)" \
  test "$(ext_curl_exit http://192.168.50.1:30081/ 2)" = 28
check "Local: the drop is counted" test "$(counter "$pin1" TC_DROP_NO_LOCAL)" -ge 1

echo "--- health-check node port, per node"
health2=$(sim_ext client curl -s -w ' %{http_code}' --max-time 3 http://192.168.50.2:32000/)
health1=$(sim_ext client curl -s -w ' %{http_code}' --max-time 3 http://192.168.50.1:32000/)
echo "$health2" | sed 's/^/      /'
check "node2 answers 200 with one local endpoint" \
  python3 -c 'import json,sys; b,c=sys.argv[1].rsplit(" ",1); j=json.loads(b); sys.exit(0 if c=="200" and j["localEndpoints"]==1 and j["service"]=={"namespace":"default","name":"echo-local"} and j["serviceProxyHealthy"] else 1)' "$health2"
check "node1 answers 503 with no local endpoint" \
  python3 -c 'import json,sys; b,c=sys.argv[1].rsplit(" ",1); sys.exit(0 if c=="503" and json.loads(b)["localEndpoints"]==0 else 1)' "$health1"

echo "--- load-balancer IPs and source ranges"
check "an LB IP open to the LAN answers" grep -q "pod nginx-1" <(ext_curl http://203.0.113.10/)
check "an LB IP whose source ranges exclude the client drops it" \
  test "$(ext_curl_exit http://203.0.113.11/ 2)" = 28
check "the denied source is counted" test "$(counter "$pin1" TC_DROP_SRC_RANGE)" -ge 1

echo "--- service CIDR from outside"
check "a ClusterIP is not served to outside clients (dropped)" \
  test "$(ext_curl_exit http://10.32.0.160/ 2)" = 28
check "an unknown port on a ClusterIP is refused at once (RST: curl exit 7)" \
  test "$(ext_curl_exit http://10.32.0.160:81/)" = 7
check "an unallocated service-CIDR address is refused at once" \
  test "$(ext_curl_exit http://10.32.0.99/)" = 7

echo "--- a pod that bypasses the socket hooks (nginx-1) uses the per-packet path"
require sim_wait_for "node1 to take nginx-1 off the socket hooks" 20 test "$(opted_out "$pin1")" -ge 1
bypass_seen=""
for _ in $(seq 30); do
  bypass_seen+=$(sim_exec nginx-1 curl -s --max-time 3 http://10.32.0.160/ | grep -o 'pod nginx-[0-9]')$'\n'
done
bypass_seen=$(echo "$bypass_seen" | sort -u | grep . | tr '\n' ' ')
check "nginx-1 reaches the ClusterIP, landing on both pods ($bypass_seen)" test "$bypass_seen" = "pod nginx-1 pod nginx-2 "
check "its connections were translated per packet, not by the socket hooks" \
  test "$(counter "$pin1" TC_CLUSTER_IP)" -ge 1 -a "$(counter "$pin1" SOCK_BYPASS)" -ge 1
check "hairpin: nginx-1 landed on itself through its Service" test "$(counter "$pin1" TC_HAIRPIN)" -ge 1
check "an unknown ClusterIP port is refused to the bypassing pod too" \
  test "$(sim_exec nginx-1 curl -s -o /dev/null --max-time 3 http://10.32.0.160:81/; echo $?)" = 7
check "a pod on the socket hooks still reaches the ClusterIP" \
  grep -q "pod nginx-" <(sim_exec busybox curl -s --max-time 3 http://10.32.0.160/)

echo "--- NodePort bind protection on the node"
# A process of node1 itself: node1's namespace, a cgroup under node1's (the hooks' cgroup).
host_cg="$SIM_CG_ROOT/node1/host-process"
mkdir -p "$host_cg" && SIM_CGROUPS+=("$host_cg")
bind_port() {
  sh -c 'echo $$ > "$1/cgroup.procs" && exec nsenter --net="/run/netns/$2" python3 -c "
import socket, sys
s = socket.socket()
try:
    s.bind((\"0.0.0.0\", int(sys.argv[1]))); print(\"bound\")
except OSError as e:
    print(e.errno)" "$3"' -- "$host_cg" "$SIM_TAG-node1" "$1"
}
check "a node process binding NodePort 30080 gets EADDRINUSE" test "$(bind_port 30080)" = 98
check "a node process binding a port no NodePort uses succeeds" test "$(bind_port 30999)" = bound
check "a pod binding 30080 in its own namespace is not refused" \
  test "$(sim_exec busybox python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0", 30080)); print("bound")')" = bound
check "the NodePort range is reserved in node1's ip_local_reserved_ports" \
  grep -q "30000-32767" <(sim_in node1 cat /proc/sys/net/ipv4/ip_local_reserved_ports)

e2e_finish
