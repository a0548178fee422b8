#!/usr/bin/env bash
# The networking tutorial's checks, through bpfproxy, on a simulated two-node cluster:
# curl through the nginx ClusterIP, nslookup and dig through kube-dns, plus what the
# tutorial takes for granted: endpoint changes, refusals, agent restarts, IPv6.
source "$(dirname "$0")/preamble.sh"

manifests=$(sim_manifests "$here/manifests")
require sim_reference_cluster
metrics_port=$(e2e_free_port)
metrics="http://127.0.0.1:$metrics_port/metrics"
node1_args=(--service-cidr 10.32.0.0/24,fd00:32::/108 --metrics-bind-address "127.0.0.1:$metrics_port")
sim_agent node1 "$manifests" "${node1_args[@]}"
agent1=$SIM_LAST_PID
sim_agent node2 "$manifests" --service-cidr 10.32.0.0/24,fd00:32::/108

in_client() { sim_exec busybox "$@"; }
pods_answering() {  # COUNT URL: the pods named by COUNT answers, sorted, space-separated
  local count=$1 url=$2 i
  for ((i = 0; i < count; i++)); do
    in_client curl -s --max-time 3 "$url" | grep -o 'pod nginx-[0-9]'
  done | sort -u | tr '\n' ' '
}
programmed() {  # PIN VIP:PORT COUNT: the frontend has COUNT backends in the maps
  "$SIM_BPFPROXY" service list --pin-dir "$1" -o json |
    python3 -c "import json,sys; f=[s for s in json.load(sys.stdin) if s['frontend']=='$2']; sys.exit(0 if f and len(f[0]['backends'])==$3 else 1)"
}
curl_exit() { in_client curl -s -o /dev/null --max-time 5 "$1"; echo $?; }

pin1=$(sim_pin_dir node1)
require sim_wait_for "node1's agent to program nginx" 20 programmed "$pin1" 10.32.0.140:80 2
require sim_wait_for "nginx pods to listen" 10 in_client curl -s --max-time 1 http://10.200.128.1/
require sim_wait_for "kube-dns to answer" 10 in_client dig +time=1 +tries=1 @10.200.128.2 kubernetes.default.svc.cluster.local

echo "--- tutorial: pods reach pods, and the Service"
check "first pod answers Welcome to nginx" grep -q "Welcome to nginx" <(in_client curl -s --max-time 3 http://10.200.0.2/)
check "second pod answers Welcome to nginx" grep -q "Welcome to nginx" <(in_client curl -s --max-time 3 http://10.200.128.1/)
check "curl the ClusterIP 10.32.0.140 reaches both pods" \
  test "$(pods_answering 30 http://10.32.0.140/)" = "pod nginx-1 pod nginx-2 "
peer=$(in_client python3 -c 'import socket; s=socket.create_connection(("10.32.0.140",80),timeout=3); print("%s:%d" % s.getpeername())')
check "getpeername on the client's socket reports 10.32.0.140:80 (got $peer)" test "$peer" = "10.32.0.140:80"

echo "--- tutorial: DNS through kube-dns at 10.32.0.10"
resolv="$SIM_TMP/resolv.conf"
printf 'nameserver 10.32.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n' > "$resolv"
lookup=$(in_client unshare --mount sh -c "mount --bind $resolv /etc/resolv.conf && nslookup kubernetes" 2>&1)
echo "$lookup" | sed 's/^/      /'
check "nslookup kubernetes asks 10.32.0.10" grep -Eq "^Server:[[:space:]]+10.32.0.10$" <<<"$lookup"
check "nslookup kubernetes answers 10.32.0.1" grep -Eq "^Address: 10.32.0.1$" <<<"$lookup"
check "dig over UDP answers 10.32.0.1 (dig rejects answers from another address)" \
  test "$(in_client dig +short +time=2 +tries=1 @10.32.0.10 kubernetes.default.svc.cluster.local)" = "10.32.0.1"
check "dig over TCP answers 10.32.0.1" \
  test "$(in_client dig +tcp +short +time=2 +tries=1 @10.32.0.10 kubernetes.default.svc.cluster.local)" = "10.32.0.1"
udp=$(in_client python3 "$here/udp_dns_query.py" 10.32.0.10 kubernetes.default.svc.cluster.local)
check "an unconnected UDP socket sees the answer come from 10.32.0.10:53 ($udp)" \
  test "$udp" = "from=10.32.0.10:53 answers=10.32.0.1"

echo "--- sessionAffinity ClientIP"
check "every connection of the client pod to 10.32.0.141 reaches one pod" \
  test "$(pods_answering 20 http://10.32.0.141/ | wc -w)" = 2
check "bpfproxy affinity list shows the client's entry" \
  grep -q "client-ip .* default/nginx-sticky" <("$SIM_BPFPROXY" affinity list --pin-dir "$pin1")

echo "--- refusals: no endpoints, undefined port"
check "a Service with no endpoints refuses at once (curl exit 7, not a timeout)" test "$(curl_exit http://10.32.0.150/)" = 7
check "a port the ClusterIP does not define is refused (curl exit 7)" test "$(curl_exit http://10.32.0.140:8080/)" = 7

echo "--- IPv6"
check "curl [fd00:32::140] reaches both pods over IPv6" \
  test "$(pods_answering 30 'http://[fd00:32::140]/')" = "pod nginx-1 pod nginx-2 "
mapped=$(in_client python3 -c 'import socket; s=socket.create_connection(("::ffff:10.32.0.140",80),timeout=3); s.sendall(b"GET / HTTP/1.0\r\n\r\n"); print(s.recv(4096).split(b"\r\n")[0].decode())')
check "a v4-mapped address on an IPv6 socket reaches the Service ($mapped)" grep -q "200 OK" <<<"$mapped"

echo "--- an endpoint removed from the slice stops getting connections"
python3 - "$manifests/nginx.yaml" <<'EOF'
import sys
path = sys.argv[1]
text = open(path).read()
text = text.replace("- addresses: [10.200.128.1]\n  conditions: {ready: true}\n  nodeName: node2\n", "")
open(path, "w").write(text)
EOF
require sim_wait_for "the agent to drop 10.200.128.1" 10 programmed "$pin1" 10.32.0.140:80 1
check "after removal only nginx-1 answers the ClusterIP" test "$(pods_answering 20 http://10.32.0.140/)" = "pod nginx-1 "
cp "$here/manifests/nginx.yaml" "$manifests/nginx.yaml"
require sim_wait_for "the agent to restore 10.200.128.1" 10 programmed "$pin1" 10.32.0.140:80 2

echo "--- SIGKILL of the agent and a restart on the same pin dir"
sim_spawn busybox "$SIM_TMP/keepalive.log" python3 "$here/keepalive_client.py" 10.32.0.140 80 6
keepalive=$SIM_LAST_PID
sleep 1
kill -9 "$agent1"
wait "$agent1" 2>/dev/null
require process_gone "$agent1"
check "with the agent dead, new connections still reach the Service" \
  grep -q "Welcome to nginx" <(in_client curl -s --max-time 3 http://10.32.0.140/)
: > "$SIM_TMP/agent-node1.log"
sim_agent node1 "$manifests" "${node1_args[@]}"
require sim_wait_for "the restarted agent's first full sync" 20 metric_is "$metrics" bpfproxy_full_syncs_total 1
grep -E "adopted|sync:" "$SIM_TMP/agent-node1.log" | sed 's/^/      /'
check "the restarted agent adopted the pinned state (13 frontends)" metric_is "$metrics" bpfproxy_adopted_frontends 13
check "the restarted agent rewrote nothing" metric_is "$metrics" bpfproxy_frontends_written_total 0
check "and removed nothing" metric_is "$metrics" bpfproxy_frontends_removed_total 0
check "after the restart, new connections reach both pods" \
  test "$(pods_answering 30 http://10.32.0.140/)" = "pod nginx-1 pod nginx-2 "
wait "$keepalive"
keepalive_rc=$?
sed 's/^/      /' "$SIM_TMP/keepalive.log"
check "the TCP connection opened before the kill kept working throughout" test "$keepalive_rc" = 0

e2e_finish
