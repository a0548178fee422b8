#!/usr/bin/env bash
# The agent against a Kubernetes API server (the independent fake in tests/fake_apiserver,
# over TLS with a bearer token, through --kubeconfig): Services and EndpointSlices created,
# updated and deleted reach the datapath; the API server goes away and the datapath keeps
# serving; the agent restarts meanwhile; the API comes back and the agent resyncs without a
# flush; a 410 Gone relist; one TCP connection survives all of it.
source "$(dirname "$0")/preamble.sh"
source "$here/fake_api.sh"
source "$here/datapath_helpers.sh"
down_seconds=${BPFPROXY_E2E_API_DOWN_SECONDS:-60}

fake_api_start --token "e2e-$RANDOM$RANDOM"

require sim_reference_cluster
metrics_port=$(e2e_free_port)
metrics="http://127.0.0.1:$metrics_port/metrics"
agent_args=(--kubeconfig "$kubeconfig" --service-cidr 10.32.0.0/24 --metrics-bind-address "127.0.0.1:$metrics_port")
sim_agent_with node1 "${agent_args[@]}"
agent=$SIM_LAST_PID
pin=$(sim_pin_dir node1)
in_client() { sim_exec busybox "$@"; }
pods_answering() {
  local count=$1 url=$2 i
  for ((i = 0; i < count; i++)); do in_client curl -s --max-time 3 "$url" | grep -o 'pod nginx-[0-9]'; done |
    sort -u | tr '\n' ' '
}

require sim_wait_for "the agent's first sync from the API" 60 has_backends "$pin" 10.32.0.140:80 2
require sim_wait_for "nginx pods" 10 in_client curl -s --max-time 1 http://10.200.128.1/

echo "--- the datapath follows the API"
check "curl the nginx ClusterIP reaches both pods" test "$(pods_answering 30 http://10.32.0.140/)" = "pod nginx-1 pod nginx-2 "
check "a Service labelled for another proxy is not programmed" absent "$pin" 10.32.0.170:80
require control POST /objects @"$here/kube/web_service.json"
check "a created Service is programmed (named targetPort resolved)" sim_wait_for "web" 30 has_backends "$pin" 10.32.0.160:8080 1
check "curl the new Service reaches its pod" test "$(pods_answering 5 http://10.32.0.160:8080/)" = "pod nginx-2 "
require control POST /objects @"$here/kube/nginx_one_endpoint.json"
check "an endpoint that stops being ready leaves the Service" sim_wait_for "nginx update" 30 has_backends "$pin" 10.32.0.140:80 1
check "after the update only nginx-1 answers" test "$(pods_answering 20 http://10.32.0.140/)" = "pod nginx-1 "
require control DELETE /objects/services/default/web
check "a deleted Service leaves the datapath" sim_wait_for "web deletion" 30 absent "$pin" 10.32.0.160:8080

endpoint_changes=$(metric_value "$metrics" kubeproxy_sync_proxy_rules_endpoint_changes_total)
require control POST /objects @"$here/kube/kubernetes_no_endpoints.json"
applied_since() {  # TOTAL: an endpoint change after TOTAL arrived and none is pending
  metric_at_least "$metrics" kubeproxy_sync_proxy_rules_endpoint_changes_total $((${1%.*} + 1)) &&
    metric_is "$metrics" kubeproxy_sync_proxy_rules_endpoint_changes_pending 0
}
require sim_wait_for "the agent to apply the emptied slice" 30 applied_since "$endpoint_changes"
check "default/kubernetes losing its endpoints keeps its last backend (the agent's own way to the API)" \
  has_backends "$pin" 10.32.0.1:443 1

echo "--- the API server goes away for ${down_seconds}s; the agent restarts meanwhile"
# The connection lives until this test touches the stop file, however long the steps take.
keepalive_stop="$SIM_TMP/keepalive.stop"
sim_spawn busybox "$SIM_TMP/keepalive.log" python3 "$here/keepalive_client.py" 10.32.0.140 80 900 "$keepalive_stop"
keepalive=$SIM_LAST_PID
require sim_wait_for "the kept connection's first answer" 30 grep -q "^connected" "$SIM_TMP/keepalive.log"
api_errors() { local v; v=$(metric_sum "$metrics" bpfproxy_api_errors_total); echo "${v:-0}"; }
errors_before=$(api_errors)
require control POST /down
require test "$(fake_state up)" = False
require api_refused
require sim_wait_for "the agent to see the API gone" 60 metric_sum_at_least "$metrics" bpfproxy_api_errors_total $((${errors_before%.*} + 1))
check "with the API down, the datapath keeps serving" test "$(pods_answering 5 http://10.32.0.140/)" = "pod nginx-1 "
kill "$agent"
wait "$agent" 2>/dev/null
require process_gone "$agent"
: > "$SIM_TMP/agent-node1.log"
sim_agent_with node1 "${agent_args[@]}"
agent=$SIM_LAST_PID
require sim_wait_for "the restarted agent to adopt the pins" 60 metric_at_least "$metrics" bpfproxy_adopted_frontends 1
# A change made while the agent cannot see it: nginx-2 is ready again.
require control POST /objects @"$here/kube/reference_objects.json"
check "the restarted agent counts its failed requests to the API" \
  sim_wait_for "a failed request" 60 metric_sum_at_least "$metrics" bpfproxy_api_errors_total 1
sleep $((down_seconds > 10 ? down_seconds - 10 : 1))  # the rest of the outage
check "after ${down_seconds}s without the API, nothing was flushed" has_backends "$pin" 10.32.0.140:80 1
check "and the ClusterIP still answers" test "$(pods_answering 5 http://10.32.0.140/)" = "pod nginx-1 "
check "the restarted agent has not synced without a complete list" \
  metric_is "$metrics" bpfproxy_full_syncs_total 0
require control POST /up
require test "$(fake_state up)" = True
check "when the API returns, the agent resyncs the change it missed" sim_wait_for "resync" 90 has_backends "$pin" 10.32.0.140:80 2
grep -E "adopted|sync:" "$SIM_TMP/agent-node1.log" | sed 's/^/      /'
# The sync's counters are recorded after its writes: wait until they are before reading them.
resync_counted() {
  metric_at_least "$metrics" bpfproxy_full_syncs_total 1 && metric_at_least "$metrics" bpfproxy_frontends_written_total 1
}
require sim_wait_for "the resync's counters" 30 resync_counted
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
require control POST /objects @"$here/kube/web_service.json"
require control POST /compact
require test "$(fake_state oldestResourceVersion)" = "$(fake_state resourceVersion)"
require control POST /up
require sim_wait_for "the agent to relist after 410 Gone" 90 metric_at_least "$metrics" bpfproxy_api_relists_total $((${relists%.*} + 1))
check "after a relist the agent sees a Service created meanwhile" sim_wait_for "relist" 60 has_backends "$pin" 10.32.0.160:8080 1
check "and the old Services are still there" has_backends "$pin" 10.32.0.140:80 2

touch "$keepalive_stop"
wait "$keepalive"
keepalive_rc=$?
sed 's/^/      /' "$SIM_TMP/keepalive.log"
check "one TCP connection kept working through the outage, the restart and the relist" test "$keepalive_rc" = 0

e2e_finish
