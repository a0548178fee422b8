#!/usr/bin/env bash
# The agent against a Kubernetes API server (the independent fake in tests/fake_apiserver,
# over TLS with a bearer token, through --kubeconfig): Services and EndpointSlices created,
# updated and deleted reach the datapath; the API server goes away and the datapath keeps
# serving; the agent restarts meanwhile; the API comes back and the agent resyncs without a
# flush; a 410 Gone relist; one TCP connection survives all of it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
source "$top/scripts/lib/sim_cluster.sh"
source "$here/check.sh"
down_seconds=${BPFPROXY_E2E_API_DOWN_SECONDS:-60}

fake_pid=""
cleanup() {
  [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null
  sim_cleanup
}
trap cleanup EXIT

# The API server, on loopback of the host namespace (where the agent runs).
pki="$SIM_TMP/pki"
require "$top/tests/fake_apiserver/gen_certs.sh" "$pki"
token="e2e-$RANDOM$RANDOM"
python3 "$top/tests/fake_apiserver/fake_apiserver.py" --ready-file "$SIM_TMP/fake.json" \
  --tls-cert "$pki/server.crt" --tls-key "$pki/server.key" --token "$token" \
  --bookmark-interval 2 --load "$here/kube/reference_objects.json" >"$SIM_TMP/fake.log" 2>&1 &
fake_pid=$!
require sim_wait_for "the fake API server" 20 test -s "$SIM_TMP/fake.json"
api_port=$(python3 -c "import json; print(json.load(open('$SIM_TMP/fake.json'))['apiPort'])")
control="http://127.0.0.1:$(python3 -c "import json; print(json.load(open('$SIM_TMP/fake.json'))['controlPort'])")"
control() { curl -sf -X "$1" "$control$2" ${3:+--data-binary @"$3"} >/dev/null; }
fake_state() {  # KEY: a field of the fake's GET /state
  curl -sf "$control/state" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
api_refused() { ! curl -sk --max-time 2 -o /dev/null "https://127.0.0.1:$api_port/version"; }

kubeconfig="$SIM_TMP/kubeconfig"
cat > "$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sim
  cluster: {server: "https://127.0.0.1:$api_port", certificate-authority: $pki/ca.crt}
users:
- name: bpfproxy
  user: {token: $token}
contexts:
- name: sim
  context: {cluster: sim, user: bpfproxy}
current-context: sim
EOF

require sim_reference_cluster
metrics_port=$(e2e_free_port)
metrics="http://127.0.0.1:$metrics_port/metrics"
agent_args=(--kubeconfig "$kubeconfig" --service-cidr 10.32.0.0/24 --metrics-bind-address "127.0.0.1:$metrics_port")
sim_agent_with node1 "${agent_args[@]}"
agent=$SIM_LAST_PID
pin=$(sim_pin_dir node1)
in_client() { sim_exec busybox "$@"; }
backends() {  # VIP:PORT -> number of backends programmed, or "absent"
  "$SIM_BPFPROXY" service list --pin-dir "$pin" -o json | python3 -c "
import json, sys
f = [s for s in json.load(sys.stdin) if s['frontend'] == '$1']
print(len(f[0]['backends']) if f else 'absent')"
}
has_backends() { test "$(backends "$1")" = "$2"; }
absent() { test "$(backends "$1")" = absent; }
pods_answering() {
  local count=$1 url=$2 i
  for ((i = 0; i < count; i++)); do in_client curl -s --max-time 3 "$url" | grep -o 'pod nginx-[0-9]'; done |
    sort -u | tr '\n' ' '
}

require sim_wait_for "the agent's first sync from the API" 30 has_backends 10.32.0.140:80 2
require sim_wait_for "nginx pods" 10 in_client curl -s --max-time 1 http://10.200.128.1/

echo "--- the datapath follows the API"
check "curl the nginx ClusterIP reaches both pods" test "$(pods_answering 30 http://10.32.0.140/)" = "pod nginx-1 pod nginx-2 "
check "a Service labelled for another proxy is not programmed" absent 10.32.0.170:80
require control POST /objects "$here/kube/web_service.json"
check "a created Service is programmed (named targetPort resolved)" sim_wait_for "web" 10 has_backends 10.32.0.160:8080 1
check "curl the new Service reaches its pod" test "$(pods_answering 5 http://10.32.0.160:8080/)" = "pod nginx-2 "
require control POST /objects "$here/kube/nginx_one_endpoint.json"
check "an endpoint that stops being ready leaves the Service" sim_wait_for "nginx update" 10 has_backends 10.32.0.140:80 1
check "after the update only nginx-1 answers" test "$(pods_answering 20 http://10.32.0.140/)" = "pod nginx-1 "
require control DELETE /objects/services/default/web
check "a deleted Service leaves the datapath" sim_wait_for "web deletion" 10 absent 10.32.0.160:8080

endpoint_changes=$(metric_value "$metrics" kubeproxy_sync_proxy_rules_endpoint_changes_total)
require control POST /objects "$here/kube/kubernetes_no_endpoints.json"
applied_since() {  # TOTAL: an endpoint change after TOTAL arrived and none is pending
  metric_at_least "$metrics" kubeproxy_sync_proxy_rules_endpoint_changes_total $((${1%.*} + 1)) &&
    metric_is "$metrics" kubeproxy_sync_proxy_rules_endpoint_changes_pending 0
}
require sim_wait_for "the agent to apply the emptied slice" 10 applied_since "$endpoint_changes"
check "default/kubernetes losing its endpoints keeps its last backend (the agent's own way to the API)" \
  has_backends 10.32.0.1:443 1

echo "--- the API server goes away for ${down_seconds}s; the agent restarts meanwhile"
sim_spawn busybox "$SIM_TMP/keepalive.log" python3 "$here/keepalive_client.py" 10.32.0.140 80 $((down_seconds + 20))
keepalive=$SIM_LAST_PID
sleep 1
require control POST /down
require test "$(fake_state up)" = False
require api_refused
sleep 3
check "with the API down, the datapath keeps serving" test "$(pods_answering 5 http://10.32.0.140/)" = "pod nginx-1 "
kill "$agent"
wait "$agent" 2>/dev/null
require process_gone "$agent"
: > "$SIM_TMP/agent-node1.log"
sim_agent_with node1 "${agent_args[@]}"
agent=$SIM_LAST_PID
require sim_wait_for "the restarted agent to adopt the pins" 20 metric_at_least "$metrics" bpfproxy_adopted_frontends 1
# A change made while the agent cannot see it: nginx-2 is ready again.
require control POST /objects "$here/kube/reference_objects.json"
sleep $((down_seconds > 10 ? down_seconds - 10 : 1))
check "after ${down_seconds}s without the API, nothing was flushed" has_backends 10.32.0.140:80 1
check "and the ClusterIP still answers" test "$(pods_answering 5 http://10.32.0.140/)" = "pod nginx-1 "
check "the restarted agent has not synced without a complete list" \
  metric_is "$metrics" bpfproxy_full_syncs_total 0
check "and counts its failed requests to the API" metric_sum_at_least "$metrics" bpfproxy_api_errors_total 1
require control POST /up
require test "$(fake_state up)" = True
check "when the API returns, the agent resyncs the change it missed" sim_wait_for "resync" 45 has_backends 10.32.0.140:80 2
grep -E "adopted|sync:" "$SIM_TMP/agent-node1.log" | sed 's/^/      /'
check "the resync wrote only the difference (one frontend)" metric_is "$metrics" bpfproxy_frontends_written_total 1
check "and removed nothing" metric_is "$metrics" bpfproxy_frontends_removed_total 0
check "both pods answer again" test "$(pods_answering 30 http://10.32.0.140/)" = "pod nginx-1 pod nginx-2 "

echo "--- 410 Gone: a change the agent misses, then history compacted under it"
# The agent's watches follow bookmarks, so a compaction alone leaves them current: take the
# API away, change something, forget the history, bring it back. The agent's resourceVersion
# is then older than the history and its watch gets 410 Gone.
relists=$(metric_value "$metrics" bpfproxy_api_relists_total)
require control POST /down
require test "$(fake_state up)" = False
require control POST /objects "$here/kube/web_service.json"
require control POST /compact
require test "$(fake_state oldestResourceVersion)" = "$(fake_state resourceVersion)"
require control POST /up
require sim_wait_for "the agent to relist after 410 Gone" 60 metric_at_least "$metrics" bpfproxy_api_relists_total $((${relists%.*} + 1))
check "after a relist the agent sees a Service created meanwhile" sim_wait_for "relist" 30 has_backends 10.32.0.160:8080 1
check "and the old Services are still there" has_backends 10.32.0.140:80 2

wait "$keepalive"
keepalive_rc=$?
sed 's/^/      /' "$SIM_TMP/keepalive.log"
check "one TCP connection kept working through the outage, the restart and the relist" test "$keepalive_rc" = 0

e2e_finish
