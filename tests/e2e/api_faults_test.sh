#!/usr/bin/env bash
# The Kubernetes API server misbehaving under a running agent: unreachable for a minute,
# a watch cut in the middle of an event, 410 Gone again and again, the agent's client
# certificate rejected. Each fault is checked to have happened (the fake API server's state,
# a refused handshake) before its outcome: the datapath keeps serving, the agent recovers
# by itself and applies what changed meanwhile, and each condition shows in
# bpfproxy_api_errors_total{reason} (or the relist counter) and in a log line.
source "$(dirname "$0")/preamble.sh"
source "$here/fake_api.sh"
source "$here/datapath_helpers.sh"
down_seconds=${BPFPROXY_E2E_API_DOWN_SECONDS:-60}

fake_api_start --client-ca "$pki/ca.crt"  # client certificates only: pki/client.crt

require sim_reference_cluster
metrics_port=$(e2e_free_port)
sim_agent_with node1 --kubeconfig "$kubeconfig" --service-cidr 10.32.0.0/24 \
  --metrics-bind-address "127.0.0.1:$metrics_port"
pin=$(sim_pin_dir node1)
log="$SIM_TMP/agent-node1.log"
metrics="http://127.0.0.1:$metrics_port/metrics"

metric() { curl -s --max-time 3 "$metrics" | awk -v name="$1" '$1 == name { print $2 }'; }
errors() { local v; v=$(metric "bpfproxy_api_errors_total{reason=\"$1\"}"); echo "${v:-0}"; }
above() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$1" "$2"; }
errors_above() { above "$(errors "$1")" "$2"; }
backoff_is_zero() { test "$(metric bpfproxy_api_backoff_seconds)" = 0; }
mid_event_cuts() { fake_state midEventCuts; }
cut_happened() { test "$(mid_event_cuts)" -ge 1; }
serving() { sim_exec busybox curl -s --max-time 3 http://10.32.0.140/ | grep -q 'pod nginx-'; }
handshake_ok() {  # the agent's own credentials against the API server
  curl -s -o /dev/null --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key" \
    "https://127.0.0.1:$fake_api_port/api/v1/namespaces/default/services"
}

require sim_wait_for "the agent's first sync from the API" 30 has_backends "$pin" 10.32.0.140:80 2
require sim_wait_for "nginx pods" 10 sim_exec busybox curl -s --max-time 1 http://10.200.128.1/
require sim_wait_for "the metrics port" 10 curl -s --max-time 1 "$metrics"

echo "--- the API server unreachable for ${down_seconds}s"
sim_spawn busybox "$SIM_TMP/keepalive.log" python3 "$here/keepalive_client.py" 10.32.0.140 80 900 "$SIM_TMP/keepalive.stop"
keepalive=$SIM_LAST_PID
require sim_wait_for "the kept connection's first answer" 30 grep -q "^connected" "$SIM_TMP/keepalive.log"
before=$(errors unreachable)
require control POST /down
check "the fault happened: the API port refuses connections" api_refused
control POST /objects @"$here/kube/nginx_one_endpoint.json"  # a change the agent cannot see yet
sleep "$down_seconds"
unreachable=$(errors unreachable)
backoff=$(metric bpfproxy_api_backoff_seconds)
echo "      after ${down_seconds}s: errors{reason=\"unreachable\"} $before -> $unreachable, backoff ${backoff}s"
check "bpfproxy_api_errors_total{reason=\"unreachable\"} grew" above "$unreachable" "$before"
check "the retries back off: bpfproxy_api_backoff_seconds reached several seconds" above "${backoff:-0}" 4
check "and there were few of them (no busy loop): under 15 per watched resource" \
  above 60 "$(python3 -c "print($unreachable - $before)")"
check "a log line says the API server is unreachable" grep -q "(unreachable); retrying with backoff" "$log"
check "the datapath kept serving, unchanged" has_backends "$pin" 10.32.0.140:80 2
check "the ClusterIP answers" serving
require control POST /up
check "the agent recovers by itself and applies the change it missed" \
  sim_wait_for "the resync" 45 has_backends "$pin" 10.32.0.140:80 1
check "a log line says the API server answers again" grep -q "the API server answers again" "$log"
check "bpfproxy_api_backoff_seconds is back to 0" sim_wait_for "backoff 0" 10 backoff_is_zero
touch "$SIM_TMP/keepalive.stop"
wait "$keepalive"
check "one TCP connection kept working through the outage" test $? = 0

echo "--- a watch cut in the middle of an event"
before=$(errors watch_broken)
armed=$(fake_call POST /cut '{"midEvent": true}' | python3 -c "import json,sys; print(json.load(sys.stdin)['armed'])")
require test "$armed" -gt 0
control POST /objects @"$here/kube/reference_objects.json"  # nginx-2 ready again
check "the fault happened: a watch was cut after half an event" sim_wait_for "the cut" 10 cut_happened
check "the agent re-watches and applies the whole event" sim_wait_for "nginx-2 back" 30 has_backends "$pin" 10.32.0.140:80 2
check "bpfproxy_api_errors_total{reason=\"watch_broken\"} counts it" errors_above watch_broken "$before"
check "a log line says the watch broke" grep -q "(watch_broken); retrying with backoff" "$log"
check "the ClusterIP answers" serving

echo "--- 410 Gone, three times over"
# Each round: the API server goes away, an object changes, the history is compacted past the
# agent's resourceVersion, the server returns: every watch the agent resumes gets 410 Gone.
relists_before=$(metric bpfproxy_api_relists_total)
for round in 1 2 3; do
  require control POST /down
  seen=$(fake_state resourceVersion)  # the newest version the agent can have seen
  if [ $((round % 2)) = 1 ]; then control POST /objects @"$here/kube/web_service.json"
  else control DELETE /objects/services/default/web; fi
  control POST /compact
  check "round $round: the fault is in place: the history now starts after what the agent saw" \
    test "$(fake_state oldestResourceVersion)" -gt "$seen"
  require control POST /up
  if [ $((round % 2)) = 1 ]; then
    check "round $round: after the relist a created Service is programmed" \
      sim_wait_for "web" 45 has_backends "$pin" 10.32.0.160:8080 1
  else
    check "round $round: after the relist a deleted Service is gone" sim_wait_for "web gone" 45 absent "$pin" 10.32.0.160:8080
  fi
done
relists=$(metric bpfproxy_api_relists_total)
check "bpfproxy_api_relists_total grew by 3 or more (${relists_before:-0} -> $relists)" \
  above "${relists:-0}" "$(python3 -c "print(${relists_before:-0} + 2)")"
check "a log line says the agent relists" grep -q "relisting" "$log"
check "the ClusterIP answers" serving

echo "--- the agent's client certificate rejected"
before=$(errors tls)
require control POST /config "{\"clientCa\": \"$pki/other-ca.crt\"}"
check "the fault happened: the API server refuses the agent's certificate" bash -c "! curl -s -o /dev/null --max-time 5 --cacert '$pki/ca.crt' --cert '$pki/client.crt' --key '$pki/client.key' https://127.0.0.1:$fake_api_port/api/v1/services"
control POST /objects @"$here/kube/nginx_one_endpoint.json"
check "bpfproxy_api_errors_total{reason=\"tls\"} counts the rejections" \
  sim_wait_for "tls errors" 45 errors_above tls "$before"
check "a log line says the handshake failed" grep -q "(tls); retrying with backoff" "$log"
check "the datapath kept serving, unchanged" has_backends "$pin" 10.32.0.140:80 2
check "the ClusterIP answers" serving
require control POST /config "{\"clientCa\": \"$pki/ca.crt\"}"
require handshake_ok
check "once the certificate is accepted again the agent recovers by itself" \
  sim_wait_for "the change" 45 has_backends "$pin" 10.32.0.140:80 1

e2e_finish
