#!/usr/bin/env bash
# Stale flows (issue 9): a client keeping a connected UDP socket to kube-dns, as stub
# resolvers do, keeps getting answers within a second after the backend its socket went
# to is deleted: the agent destroys the socket (bpf_sock_destroy, run in every network
# namespace) and the client connects again, to the other backend. Deleting the Service
# aborts the socket at once too.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/sim_cluster.sh"
source "$here/check.sh"
trap sim_cleanup EXIT

manifests=$(sim_manifests "$here/manifests")
# A second kube-dns pod, on node1.
cat > "$manifests/kube-dns-2.yaml" <<'YAML'
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-second
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns}
addressType: IPv4
endpoints:
- addresses: [10.200.0.3]
  conditions: {ready: true}
  nodeName: node1
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
YAML
require sim_reference_cluster
sim_pod node1 kube-dns-2 10.200.0.3/17 10.200.127.254 fd00:200::1:3/112 fd00:200::1:ffff
sim_dns kube-dns-2
sim_agent node1 "$manifests"
sim_agent node2 "$manifests"
require sim_wait_for "node1's agent to sync" 20 grep -q "sync:" "$SIM_TMP/agent-node1.log"
require sim_wait_for "kube-dns to answer through the ClusterIP" 10 \
  sim_exec busybox dig +time=1 +tries=1 @10.32.0.10 kubernetes.default.svc.cluster.local

now() { python3 -c 'import time; print("%.3f" % time.monotonic())'; }
# The backend a client's connected UDP socket to 10.32.0.10:53 went to (the kernel's peer).
peer_of_client() { sim_exec busybox ss -Hnu | grep -oE '10\.200\.[0-9.]+:53( |$)' | head -1 | cut -d: -f1; }
# First "answer" line at or after time T in LOG; prints its delay after T.
answered_after() {
  awk -v t="$2" '$1 == "answer" && $2 >= t { printf "%.3f\n", $2 - t; exit }' "$1"
}

echo "--- the backend of a connected UDP socket is deleted"
log="$SIM_TMP/resolver.log"
sim_spawn busybox "$log" python3 "$here/resolver_client.py" 10.32.0.10 kubernetes.default.svc.cluster.local 6
require sim_wait_for "the resolver's first answer" 5 grep -q answer "$log"
peer=$(peer_of_client)
echo "      the resolver's socket went to $peer"
case "$peer" in
  10.200.128.2) gone_slice=kube-dns-x7k2p; gone_file=reference.yaml; gone_pod=kube-dns ;;
  10.200.0.3) gone_slice=kube-dns-second; gone_file=kube-dns-2.yaml; gone_pod=kube-dns-2 ;;
  *) require false "the resolver's socket is connected to a kube-dns pod" ;;
esac
# The pod goes away: its endpoint leaves the slice and its dnsmasq stops answering.
# The pod goes away without a word: no ICMP error tells the client.
nsenter --net="/run/netns/$SIM_TAG-$gone_pod" ip link set eth0 down
deleted_at=$(now)
python3 - "$manifests/$gone_file" "$gone_slice" <<'PY'
import sys
path, slice_name = sys.argv[1], sys.argv[2]
docs = open(path).read().split("\n---\n")
kept = [d for d in docs if "name: " + slice_name not in d]
open(path + ".new", "w").write("\n---\n".join(kept))
PY
mv "$manifests/$gone_file.new" "$manifests/$gone_file"
sleep 3
delay=$(answered_after "$log" "$deleted_at")
check "the resolver gets an answer within a second after its backend is deleted (after ${delay:-never} s)" \
  python3 -c "import sys; sys.exit(0 if '$delay' and float('$delay') <= 1.0 else 1)"
# A destroyed UDP socket fails the call in progress: recv with ECONNABORTED, or, being no
# longer connected, send with EDESTADDRREQ.
check "its socket was destroyed (the client saw an error and connected again)" grep -Eq "^error .* (ECONNABORTED|EDESTADDRREQ)" "$log"
check "the agent counted it" grep -q "destroyed [1-9][0-9]* UDP" "$SIM_TMP/agent-node1.log"

echo "--- the Service is deleted"
log2="$SIM_TMP/resolver2.log"
sim_spawn busybox "$log2" python3 "$here/resolver_client.py" 10.32.0.10 kubernetes.default.svc.cluster.local 4
require sim_wait_for "the resolver's first answer" 5 grep -q answer "$log2"
deleted_at=$(now)
python3 - "$manifests/reference.yaml" "$manifests/kube-dns-2.yaml" <<'PY'
import sys
for path in sys.argv[1:]:
    docs = open(path).read().split("\n---\n")
    kept = [d for d in docs if "kube-dns" not in d]
    open(path + ".new", "w").write("\n---\n".join(kept))
PY
mv "$manifests/reference.yaml.new" "$manifests/reference.yaml"
mv "$manifests/kube-dns-2.yaml.new" "$manifests/kube-dns-2.yaml"
sleep 2
aborted=$(awk -v t="$deleted_at" '$1 == "error" && $2 >= t && ($3 == "ECONNABORTED" || $3 == "EDESTADDRREQ") { printf "%.3f\n", $2 - t; exit }' "$log2")
check "the resolver's socket is aborted at once (after ${aborted:-never} s)" \
  python3 -c "import sys; sys.exit(0 if '$aborted' and float('$aborted') <= 1.0 else 1)"
e2e_finish
