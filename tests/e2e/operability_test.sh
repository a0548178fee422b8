#!/usr/bin/env bash
# Operability on the simulated cluster: /metrics scraped and linted by promtool, /healthz
# and /livez through their transitions (a detached hook, a restart), /proxyMode, /configz
# from --config, and `bpfproxy explain` checked against the backend the datapath picks.
# Servers bind 127.0.0.1 only; everything is removed at exit, also on failure.
source "$(dirname "$0")/preamble.sh"

manifests=$(sim_manifests "$here/manifests")
# A slice whose last change happened long before this agent started (a restart on a quiet
# cluster): kube-proxy leaves such trigger times out of the network-programming latency.
cat > "$manifests/stale-trigger.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: stale-trigger, namespace: default}
spec:
  clusterIP: 10.32.0.170
  ports: [{port: 80, protocol: TCP, targetPort: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: stale-trigger-1
  namespace: default
  labels: {kubernetes.io/service-name: stale-trigger}
  annotations: {endpoints.kubernetes.io/last-change-trigger-time: "2020-01-01T00:00:00Z"}
addressType: IPv4
endpoints:
- addresses: [10.200.0.2]
  conditions: {ready: true}
ports: [{port: 80, protocol: TCP}]
YAML
# nginx opts in to per-backend traffic counters, read in the scrape below.
sed -i 's|^metadata: {name: nginx, namespace: default, labels: {run: nginx}}$|metadata: {name: nginx, namespace: default, labels: {run: nginx}, annotations: {bpfproxy.io/metrics: "true"}}|' \
  "$manifests/nginx.yaml"
require grep -q 'bpfproxy.io/metrics' "$manifests/nginx.yaml"
require sim_reference_cluster

metrics_port=$(e2e_free_port)
healthz_port=$(e2e_free_port)
config="$SIM_TMP/bpfproxy.yaml"
cat > "$config" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
metricsBindAddress: 127.0.0.1:$metrics_port
healthzBindAddress: 127.0.0.1:$healthz_port
syncPeriod: 2s
minSyncPeriod: 5s
clusterCIDR: 10.200.0.0/16
iptables:
  masqueradeAll: false
bpfproxy:
  serviceCIDRs: [10.32.0.0/24]
  mapSizes:
    services: 4096
    backends: 8192
YAML
# The file's bind addresses win over sim_agent's "" only when they come last: give them
# again on the command line, as an operator overriding a file would.
agent_args=(--config "$config" --metrics-bind-address "127.0.0.1:$metrics_port"
            --healthz-bind-address "127.0.0.1:$healthz_port")
sim_agent node1 "$manifests" "${agent_args[@]}"
agent1=$SIM_LAST_PID
pin1=$(sim_pin_dir node1)
B=$SIM_BPFPROXY
health="http://127.0.0.1:$healthz_port"
metrics="http://127.0.0.1:$metrics_port/metrics"

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1"; }
metric() {  # NAME{LABELS}: its value in a fresh scrape
  curl -s --max-time 2 "$metrics" | awk -v name="$1" '$1 == name { print $2 }'
}
in_client() { sim_exec busybox "$@"; }
answers() { test "$(code "$health/$1")" = "$2"; }  # PATH CODE

require sim_wait_for "the health port" 20 curl -s --max-time 1 "$health/livez"
require sim_wait_for "healthz 200 after the first full sync" 20 answers healthz 200

echo "--- health"
body=$(curl -s "$health/healthz")
echo "      $body"
check "/healthz answers kube-proxy's JSON (lastUpdated, currentTime, nodeEligible)" \
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if set(d)=={'lastUpdated','currentTime','nodeEligible'} and d['nodeEligible'] is True else 1)" "$body"
check "/livez answers 200 with lastUpdated and currentTime" test "$(code "$health/livez")" = 200
check "/proxyMode answers ebpf" test "$(curl -s "$health/proxyMode")" = ebpf
configz=$(curl -s "$health/configz")
check "/configz shows the file's values (syncPeriod 2s, map sizes)" \
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['syncPeriod']=='2s' and d['bpfproxy']['mapSizes']['services']=='4096' else 1)" "$configz"
check "/configz shows that the command line beat the file (minSyncPeriod 0)" \
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['minSyncPeriod']=='0' else 1)" "$configz"
check "the file's map size reached the datapath (the service map, bpx_svc_vN, holds 4096)" \
  test "$("$B" status --pin-dir "$pin1" --healthz-address "" -o json | python3 -c "import json,sys; print([m['capacity'] for m in json.load(sys.stdin)['maps'] if m['name'].startswith('bpx_svc_v')][0])")" = 4096
check "kube-proxy's fields that do not apply were named in one warning" \
  grep -q "kube-proxy fields that do not apply to bpfproxy .* are ignored: clusterCIDR=10.200.0.0/16 (and 1 left at their defaults)" "$SIM_TMP/agent-node1.log"

echo "--- explain agrees with the datapath"
require sim_wait_for "nginx pods to listen" 10 in_client curl -s --max-time 1 http://10.200.128.1/
json=$("$B" explain --pin-dir "$pin1" --src 10.200.0.10 --dst 10.32.0.140:80/tcp -o json)
check "explain: 10.32.0.140:80 is default/nginx, random among 2" \
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['frontend']['name']=='nginx' and 'random among 2' in d['pick'] and 'picked' not in d else 1)" "$json"
answered=$(for i in $(seq 20); do in_client curl -s --max-time 3 http://10.32.0.140/ | grep -o 'pod nginx-[0-9]'; done | sort -u | tr '\n' ' ')
check "and the datapath does reach both backends ($answered)" test "$answered" = "pod nginx-1 pod nginx-2 "
python3 - "$manifests/nginx.yaml" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
text = text.replace("- addresses: [10.200.128.1]\n  conditions: {ready: true}\n  nodeName: node2\n", "")
open(path, "w").write(text)
PY
one_backend() { "$B" explain --pin-dir "$pin1" --src 10.200.0.10 --dst 10.32.0.140:80/tcp -o json |
  python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if d.get('picked',{}).get('address')=='10.200.0.2:80' else 1)"; }
require sim_wait_for "explain to pick the one backend left" 15 one_backend
check "explain: with one backend it names 10.200.0.2:80 (nginx-1)" one_backend
answered=$(for i in $(seq 10); do in_client curl -s --max-time 3 http://10.32.0.140/ | grep -o 'pod nginx-[0-9]'; done | sort -u | tr '\n' ' ')
check "and every connection reaches nginx-1 ($answered)" test "$answered" = "pod nginx-1 "
"$B" explain --pin-dir "$pin1" --src 10.200.0.10 --dst 10.32.0.150:80/tcp >/dev/null
rc=$?
curl_rc=$(in_client curl -s -o /dev/null --max-time 5 http://10.32.0.150/; echo $?)
check "explain: no endpoints is refused (exit 1), and curl is refused (exit $curl_rc)" test "$rc:$curl_rc" = "1:7"
json=$("$B" explain --pin-dir "$pin1" --src 10.200.0.10 --dst 10.32.0.140:8080/tcp -o json)
check "explain: an undefined port is refused with reason no_port" grep -q '"reason":"no_port"' <<<"$json"
"$B" explain --pin-dir "$pin1" --src 10.200.0.10 --dst 10.99.0.1:80/tcp >/dev/null
check "explain: an address that is no Service exits 4" test $? = 4
# The querying socket stays open through the inspection: its sticky backend lives with it.
mkfifo "$SIM_TMP/udp-hold"
in_client python3 "$here/udp_dns_query.py" 10.32.0.10 kubernetes.default.svc.cluster.local --hold \
  <"$SIM_TMP/udp-hold" >"$SIM_TMP/udp-answer" &
udp_holder=$!
exec 7>"$SIM_TMP/udp-hold"
sim_wait_for "the UDP query's answer" 10 test -s "$SIM_TMP/udp-answer"
udp=$(cat "$SIM_TMP/udp-answer")
check "a UDP query through kube-dns is answered ($udp)" test "$udp" = "from=10.32.0.10:53 answers=10.32.0.1"
check "affinity list shows the UDP socket's sticky backend 10.200.128.2:53" \
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if any(e['backend']=='10.200.128.2:53' and e['service']=='kube-system/kube-dns' for e in d) else 1)" \
  "$("$B" affinity list --pin-dir "$pin1" -o json)"
check "explain for kube-dns names the sticky sockets and picks 10.200.128.2:53" \
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['udpStickySockets']>=1 and d['picked']['address']=='10.200.128.2:53' else 1)" \
  "$("$B" explain --pin-dir "$pin1" --src 10.200.0.10 --dst 10.32.0.10:53/udp -o json)"
exec 7>&-  # the query's socket closes
wait "$udp_holder"

echo "--- metrics"
scrape="$SIM_TMP/metrics.txt"
curl -s "$metrics" > "$scrape"
promtool check metrics < "$scrape"
check "promtool check metrics accepts a real scrape" test $? = 0
for name in kubeproxy_sync_proxy_rules_duration_seconds_bucket kubeproxy_sync_proxy_rules_last_timestamp_seconds \
            kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds kubeproxy_network_programming_duration_seconds_bucket \
            kubeproxy_sync_proxy_rules_endpoint_changes_pending kubeproxy_sync_proxy_rules_endpoint_changes_total \
            kubeproxy_sync_proxy_rules_service_changes_pending kubeproxy_sync_proxy_rules_service_changes_total \
            kubeproxy_sync_proxy_rules_no_local_endpoints_total kubeproxy_proxy_healthz_total kubeproxy_proxy_livez_total \
            bpfproxy_bpf_map_entries bpfproxy_bpf_map_capacity bpfproxy_program_attached bpfproxy_translations_total \
            bpfproxy_drops_total; do
  check "scrape has $name" grep -q "^$name" "$scrape"
done
check "the sync histogram has kube-proxy's 16 s bucket" grep -q 'kubeproxy_sync_proxy_rules_duration_seconds_bucket{ip_family="IPv4",le="16.384"}' "$scrape"
check "the programming histogram has kube-proxy's 5 min bucket" grep -q 'kubeproxy_network_programming_duration_seconds_bucket{le="300"}' "$scrape"
check "stale-trigger (a 2020 trigger time) is programmed" "$B" service list --pin-dir "$pin1" --name stale-trigger
programmed=$(awk '$1 == "kubeproxy_network_programming_duration_seconds_count" { print $2 }' "$scrape")
recent=$(awk '$1 == "kubeproxy_network_programming_duration_seconds_bucket{le=\"300\"}" { print $2 }' "$scrape")
check "network programming: $programmed samples, none from a trigger time before the agent started" \
  test -n "$programmed" -a "$programmed" != 0 -a "$programmed" = "$recent"
check "connect4 translations were counted (curl above)" test "$(metric 'bpfproxy_translations_total{hook="connect4"}' | cut -d. -f1)" -ge 30
check "refusals were counted by reason (no_backend >= 1)" test "$(metric 'bpfproxy_drops_total{reason="no_backend"}' | cut -d. -f1)" -ge 1
# Every drop and refusal counter of bpf/maps_abi.h, socket hooks and TC alike, is a reason.
abi_reasons=$(awk '$1 == "#define" && $2 ~ /^BPX_STAT_/ && $2 != "BPX_STAT_COUNT" { print $2 }' "$here/../../bpf/maps_abi.h" |
  python3 -c "import sys
for n in sys.stdin.read().split():
    w = n[len('BPX_STAT_'):].split('_')
    if {'DROP', 'REJECT', 'REFUSED'} & set(w): print('_'.join(x.lower() for x in w if x != 'DROP'))" |
  sed 's/^src_range$/source_range/' | sort)  # the label keeps its first documented name
scraped_reasons=$(grep -o '^bpfproxy_drops_total{reason="[a-z_0-9]*"' "$scrape" | sed 's/.*reason="//; s/"$//' | sort)
check "bpfproxy_drops_total has every drop counter of both paths ($(echo $abi_reasons | wc -w) reasons, TC's included)" \
  test -n "$abi_reasons" -a "$abi_reasons" = "$scraped_reasons" -a -n "$(grep -x tc_no_local <<<"$scraped_reasons")"
check "status -o json shows the same reasons and counts" \
  python3 -c "import json,sys; d=json.loads(sys.argv[1])['counters']['drops']; sys.exit(0 if sorted(d)==sys.argv[2].split() and d['no_backend']>=1 else 1)" \
  "$("$B" status --pin-dir "$pin1" --healthz-address "" -o json)" "$scraped_reasons"
check "map entries come from the agent's count (bpx_be_v1 = $(metric 'bpfproxy_bpf_map_entries{map="bpx_be_v1"}'))" \
  test "$(metric 'bpfproxy_bpf_map_entries{map="bpx_be_v1"}')" = "$("$B" backend list --pin-dir "$pin1" -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
# The 10 curls after nginx-2 left all reached nginx-1 (its earlier ones too, unless it left).
nginx1=$(metric 'bpfproxy_service_connections_total{backend="10.200.0.2:80",name="nginx",namespace="default",path="socket"}')
check "nginx (bpfproxy.io/metrics) has its connections to nginx-1 counted (${nginx1:-none} >= 10)" \
  test "$(cut -d. -f1 <<<"${nginx1:-0}")" -ge 10
check "the backend that left (nginx-2) has no series: its counters went with it" \
  test -z "$(grep '^bpfproxy_service_connections_total{backend="10.200.128.1:80"' "$scrape")"
check "Services without the annotation have no traffic series (kube-dns)" \
  test -z "$(grep '^bpfproxy_service_connections_total{.*name="kube-dns"' "$scrape")"
check "no Service was refused its counters (bpfproxy_services_metrics_refused 0)" \
  grep -q '^bpfproxy_services_metrics_refused 0' "$scrape"
check "healthz probes were counted with code 200" test "$(metric 'kubeproxy_proxy_healthz_total{code="200"}' | cut -d. -f1)" -ge 1

echo "--- CLI"
"$B" status --pin-dir "$pin1" --healthz-address "127.0.0.1:$healthz_port" > "$SIM_TMP/status.txt"
check "status exits 0 with the agent healthy" test $? = 0
check "status says KubeProxyReplacement True" grep -q "^KubeProxyReplacement: *True" "$SIM_TMP/status.txt"
watched=$(timeout 10 "$B" service list --pin-dir "$pin1" --watch --watch-limit 1 -o json --name nginx)
check "service list --watch -o json prints a document and stops at --watch-limit" \
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d and d[0]['name']=='nginx' else 1)" "$watched"
check "service list -o yaml parses as YAML with the same keys" \
  python3 -c "import sys,yaml; d=yaml.safe_load(sys.stdin); sys.exit(0 if {'namespace','name','type','frontend','protocol','backends'} <= set(d[0]) else 1)" \
  < <("$B" service list --pin-dir "$pin1" -o yaml)
"$B" maglev show default/nginx --pin-dir "$pin1" -o json | grep -q '"algorithm":"random"'
check "maglev show names the random slot table" test $? = 0
"$B" maglev show default/nope --pin-dir "$pin1" >/dev/null 2>&1
check "maglev show of an unknown Service exits 3" test $? = 3
"$B" capacity --services 100 --endpoints 1000 --pin-dir "$pin1" >/dev/null
check "capacity: 100 Services, 1000 endpoints fit" test $? = 0
"$B" capacity --services 5000 --endpoints 1000 --pin-dir "$pin1" >/dev/null
check "capacity: 5000 Services do not fit 4096-entry maps (exit 1)" test $? = 1
"$B" conntrack list --pin-dir "$pin1" >/dev/null 2>&1
rc=$?
check "conntrack list answers (0) or says this datapath has none (3): $rc" test "$rc" = 0 -o "$rc" = 3
doctor=$(sim_in node1 "$B" doctor --pin-dir "$pin1" -o json)
check "doctor (read-only, in node1's namespace) finds every hook attached" \
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); a=[f for f in d if f['check'].startswith('attached: bpx_connect')]; sys.exit(0 if a and all(f['status']=='ok' for f in a) else 1)" "$doctor"

echo "--- health transitions: a detached hook, then a restart"
bpftool link detach pinned "$pin1/links/bpx_connect4"
require test "$(metric 'bpfproxy_program_attached{hook="connect4",program="bpx_connect4"}')" = 0
check "/healthz turns 503 when a hook is detached" test "$(code "$health/healthz")" = 503
check "/livez turns 503 too (the program was attached once)" test "$(code "$health/livez")" = 503
check "the reason is given in X-Bpfproxy-Reason" \
  grep -qi "x-bpfproxy-reason: program not attached: bpx_connect4" <(curl -s -D - -o /dev/null "$health/healthz")
check "bpfproxy_program_attached{program=bpx_connect4} is 0" \
  test "$(metric 'bpfproxy_program_attached{hook="connect4",program="bpx_connect4"}')" = 0
"$B" status --pin-dir "$pin1" --healthz-address "" >/dev/null
check "status exits 1 (degraded)" test $? = 1
check "healthz 503 answers were counted" test "$(metric 'kubeproxy_proxy_healthz_total{code="503"}' | cut -d. -f1)" -ge 1
kill "$agent1"
wait "$agent1" 2>/dev/null
require process_gone "$agent1"
sim_agent node1 "$manifests" "${agent_args[@]}"
require sim_wait_for "the restarted agent's health port" 20 curl -s --max-time 1 "$health/livez"
require sim_wait_for "healthz back to 200 after the restart re-attached the hook" 20 answers healthz 200
check "after the restart every hook is attached again" test "$(code "$health/livez")" = 200

e2e_finish
