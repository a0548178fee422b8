#!/usr/bin/env bash
# Installs the dependencies, builds bpfproxy, and walks through the networking tutorial's
# checks on a simulated two-node cluster made of network namespaces, with bpfproxy in place
# of kube-proxy. Everything it makes is removed at the end. Run as root on Debian 12.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/setup.sh
scripts/build.sh

source scripts/lib/sim_cluster.sh
trap sim_cleanup EXIT
bpfproxy="$top/build/bpfproxy"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
indent() { sed 's/^/  /'; }
in_busybox() { sim_exec busybox "$@"; }

echo "== A two-node cluster in network namespaces"
echo "   node1: nginx-1 10.200.0.2, busybox 10.200.0.10"
echo "   node2: nginx-2 10.200.128.1, kube-dns 10.200.128.2"
echo "   service range 10.32.0.0/24 (and fd00:32::/108), cluster CIDR 10.200.0.0/16"
sim_reference_cluster

manifests=$(sim_manifests tests/e2e/manifests)
step "kubectl apply -f nginx.yaml   # the objects the API server would hold"
grep -E '^(kind|  name|  clusterIP|  ports| *- addresses)' "$manifests/nginx.yaml" | indent

step "bpfproxy agent --manifests $manifests --cgroup <node cgroup> --pin-dir <bpffs dir>   # on each node"
for node in node1 node2; do
  sim_agent "$node" "$manifests" --service-cidr 10.32.0.0/24,fd00:32::/108
done
programmed() {
  "$bpfproxy" service list --pin-dir "$(sim_pin_dir "$1")" -o json | grep -q '"10.32.0.140:80"'
}
sim_wait_for "node1's agent" 20 programmed node1
sim_wait_for "node2's agent" 20 programmed node2
sim_wait_for "nginx" 10 in_busybox curl -s --max-time 1 http://10.200.0.2/
sim_wait_for "kube-dns" 10 in_busybox dig +time=1 +tries=1 @10.200.128.2 kubernetes.default.svc.cluster.local
grep -E "attached bpx_connect4|sync:" "$SIM_TMP/agent-node1.log" | indent

step "bpfproxy service list   # node1, read from the pinned maps"
"$bpfproxy" service list --pin-dir "$(sim_pin_dir node1)" | indent

step "kubectl get ep nginx"
printf 'NAME    ENDPOINTS\nnginx   10.200.0.2:80,10.200.128.1:80\n' | indent

for pod_ip in 10.200.0.2 10.200.128.1; do
  step "kubectl exec busybox -- curl $pod_ip"
  in_busybox curl -s --max-time 3 "http://$pod_ip/" | indent
done

step "kubectl exec busybox -- curl 10.32.0.140   # the ClusterIP, six times"
for _ in 1 2 3 4 5 6; do in_busybox curl -s --max-time 3 http://10.32.0.140/; done | indent

step "kubectl exec busybox -- curl 'http://[fd00:32::140]/'   # the same Service over IPv6"
in_busybox curl -s --max-time 3 'http://[fd00:32::140]/' | indent

step "kubectl exec -ti busybox -- nslookup kubernetes"
printf 'nameserver 10.32.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\n' > "$SIM_TMP/resolv.conf"
in_busybox unshare --mount sh -c "mount --bind $SIM_TMP/resolv.conf /etc/resolv.conf && nslookup kubernetes" | indent

step "kubectl exec busybox -- dig +short @10.32.0.10 nginx.default.svc.cluster.local"
in_busybox dig +short +time=2 +tries=1 @10.32.0.10 nginx.default.svc.cluster.local | indent

step "kubectl exec busybox -- curl 10.32.0.150   # a Service with no ready endpoints"
in_busybox curl -sS --max-time 3 http://10.32.0.150/ 2>&1 | indent || true

step "bpfproxy backend list   # node1"
"$bpfproxy" backend list --pin-dir "$(sim_pin_dir node1)" | indent

echo
echo "== Done: the tutorial's checks passed through bpfproxy. Removing the cluster."
