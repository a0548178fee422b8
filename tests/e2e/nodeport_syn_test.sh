#!/usr/bin/env bash
# Short connections through a NodePort under load (issue 9): 10,000 HTTP/1.0 connections
# from an outside client to node1's NodePort whose only endpoint is on node2, so each is
# translated and source-translated (SNAT) by the TC path, and the backend closes first and
# keeps every connection's TIME_WAIT. Not one SYN may need a retransmission: the kernel's
# counters in the client's namespace (TcpExtTCPSynRetrans, Tcp RetransSegs) before and after.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/sim_cluster.sh"
source "$here/check.sh"
trap sim_cleanup EXIT
connections=${BPFPROXY_SHORT_CONNECTIONS:-10000}

manifests=$(sim_manifests "$here/manifests")
cat > "$manifests/short.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: short, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.32.0.170
  ports: [{port: 80, protocol: TCP, targetPort: 80, nodePort: 30090}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: short-1, namespace: default, labels: {kubernetes.io/service-name: short}}
addressType: IPv4
endpoints:
- {addresses: [10.200.128.1], conditions: {ready: true}, nodeName: node2}
ports: [{port: 80, protocol: TCP}]
YAML
require sim_reference_cluster
require sim_lan node1 node2
require sim_external_client client 192.168.50.100/24 fd00:50::100/64
for node in node1 node2; do
  sim_agent_tc "$node" "$manifests" --service-cidr 10.32.0.0/24,fd00:32::/108 --devices ext0,eth0
done
require sim_wait_for "node1's agent to attach its TC programs" 20 grep -q "attached bpx_tc_from_dev on ext0" "$SIM_TMP/agent-node1.log"
require sim_wait_for "the NodePort to answer" 20 sim_ext client curl -s --max-time 1 http://192.168.50.1:30090/

retransmissions() {  # SynRetrans RetransSegs, absolute, in the client's namespace
  sim_ext client nstat -asz TcpExtTCPSynRetrans TcpRetransSegs |
    awk '$1 == "TcpExtTCPSynRetrans" { s = $2 } $1 == "TcpRetransSegs" { r = $2 } END { print s + 0, r + 0 }'
}
read -r syn_before segs_before < <(retransmissions)
result=$(sim_ext client python3 "$here/short_connections.py" 192.168.50.1 30090 "$connections")
read -r syn_after segs_after < <(retransmissions)
echo "      $connections connections: $result; SYN retransmissions $((syn_after - syn_before)), segments retransmitted $((segs_after - segs_before))"
check "every connection completed" test "${result%% slowest*}" = "failed 0"
check "no SYN was retransmitted" test "$syn_after" -eq "$syn_before"
check "no segment was retransmitted" test "$segs_after" -eq "$segs_before"
e2e_finish
