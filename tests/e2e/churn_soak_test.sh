#!/usr/bin/env bash
# Churn soak: short TCP requests and DNS queries through ClusterIPs, without pause, while
# endpoints churn every 100 ms (added, removed, readiness flipped) and Services are created
# and deleted. Zero failed requests to the Services that always kept a ready endpoint, every
# request to a deleted Service refused (the socket path rejects unallocated service-CIDR
# addresses; never hung, never answered by a stale translation), the agent's memory flat.
# Two minutes by default; longer with --seconds N or BPFPROXY_SOAK_SECONDS. Counts at the end.
source "$(dirname "$0")/preamble.sh"
seconds=${BPFPROXY_SOAK_SECONDS:-120}
[ "${1:-}" = --seconds ] && seconds=$2

manifests="$SIM_TMP/churn"
mkdir -p "$manifests"
require sim_reference_cluster
sim_agent node1 "$manifests" --service-cidr 10.32.0.0/24
agent=$SIM_LAST_PID
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$agent/status"; }
require sim_wait_for "the agent" 20 grep -q "watching" "$SIM_TMP/agent-node1.log"
require sim_wait_for "nginx pods" 10 sim_exec busybox curl -s --max-time 1 http://10.200.128.1/
require sim_wait_for "kube-dns" 10 sim_exec busybox dig +time=1 +tries=1 @10.200.128.2 kubernetes.default.svc.cluster.local

echo "--- churning for ${seconds}s"
sim_spawn busybox "$SIM_TMP/churn.json" python3 "$here/churn_client.py" "$manifests" "$SIM_TMP" "$seconds"
client=$SIM_LAST_PID
samples=()
sleep 15  # warm-up: allocators and caches reach their working size
baseline=$(rss_kb)
while kill -0 "$client" 2>/dev/null; do
  samples+=("$(rss_kb)")
  sleep 10
done
wait "$client"
final=$(rss_kb)
echo "      agent RSS (kB): after warm-up $baseline, every 10s: ${samples[*]}, at the end $final"
summary=$(tail -1 "$SIM_TMP/churn.json")
python3 -c "
import json, sys
s = json.loads(sys.argv[1])
for k, v in s['counts'].items(): print(f'      {k:18} {v}')
for e in s['errors']: print(f'      error: {e}')" "$summary"
get() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['counts']['$1'])" "$summary"; }

check "the churn happened: endpoint changes every 100 ms ($(get endpoint_changes))" test "$(get endpoint_changes)" -ge $((seconds * 5))
check "the churn happened: Services created and deleted ($(get services_deleted))" test "$(get services_deleted)" -ge $((seconds / 10))
check "requests were sent throughout ($(get web_ok) TCP, $(get dns_ok) DNS answered)" \
  test "$(get web_ok)" -ge $((seconds * 5)) -a "$(get dns_ok)" -ge $((seconds * 3))
check "zero failed TCP requests to the Service that always had a ready endpoint" test "$(get web_failed)" = 0
check "zero failed DNS queries to kube-dns, which always had a ready endpoint" test "$(get dns_failed)" = 0
check "every request to a created Service answered" test "$(get created_failed)" = 0
check "every request to a deleted Service refused ($(get deleted_refused); $(get deleted_hung) hung, $(get deleted_answered) answered)" \
  test "$(get deleted_hung)" = 0 -a "$(get deleted_answered)" = 0 -a "$(get deleted_refused)" -gt 0
check "the agent is alive" kill -0 "$agent"
check "agent memory flat: $final kB at the end, $baseline kB after warm-up (at most +20% + 4 MB)" \
  test "$final" -le $((baseline * 12 / 10 + 4096))

e2e_finish
