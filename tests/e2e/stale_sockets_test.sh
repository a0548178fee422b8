#!/usr/bin/env bash
# Stale flows (issue 9): a client keeping a connected UDP socket to kube-dns, as stub
# resolvers do, gets answers again after the backend its socket went to is deleted: the
# agent destroys the socket (bpf_sock_destroy, run in every network namespace) and the
# client connects again, to the other backend. Without the destroy the socket would time
# out for ever (the pod went away without a word). Deleting the Service aborts the socket
# too, rather than leaving it to time out. How long each took is printed, not asserted
# (timings belong in bench/): the checks are on the order of events and on the counter.
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
metrics_port=$(e2e_free_port)
metrics="http://127.0.0.1:$metrics_port/metrics"
sim_agent node1 "$manifests" --metrics-bind-address "127.0.0.1:$metrics_port"
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
sim_spawn busybox "$log" python3 "$here/resolver_client.py" 10.32.0.10 kubernetes.default.svc.cluster.local 60
resolver=$SIM_LAST_PID
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
answered_since() { [ -n "$(answered_after "$log" "$deleted_at")" ]; }
sim_wait_for "an answer after the backend was deleted" 30 answered_since
delay=$(answered_after "$log" "$deleted_at")
check "the resolver gets answers again after its backend is deleted (after ${delay:-never} s)" test -n "$delay"
# A destroyed UDP socket fails the call in progress: recv with ECONNABORTED, or, being no
# longer connected, send with EDESTADDRREQ.
check "its socket was destroyed (the client saw an error and connected again)" grep -Eq "^error .* (ECONNABORTED|EDESTADDRREQ)" "$log"
check "the agent counted it" metric_at_least "$metrics" 'bpfproxy_stale_sockets_destroyed_total{protocol="udp"}' 1
kill "$resolver" 2>/dev/null; wait "$resolver" 2>/dev/null

echo "--- the Service is deleted"
log2="$SIM_TMP/resolver2.log"
sim_spawn busybox "$log2" python3 "$here/resolver_client.py" 10.32.0.10 kubernetes.default.svc.cluster.local 60
resolver=$SIM_LAST_PID
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
aborted_after() {
  awk -v t="$deleted_at" '$1 == "error" && $2 >= t && ($3 == "ECONNABORTED" || $3 == "EDESTADDRREQ") { printf "%.3f\n", $2 - t; exit }' "$log2"
}
aborted_since() { [ -n "$(aborted_after)" ]; }
sim_wait_for "the resolver's socket to be aborted" 30 aborted_since
aborted=$(aborted_after)
check "the resolver's socket is aborted, not left to time out (after ${aborted:-never} s)" test -n "$aborted"
kill "$resolver" 2>/dev/null; wait "$resolver" 2>/dev/null
e2e_finish
