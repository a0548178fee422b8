#!/usr/bin/env bash
# Faults under a running agent, each injected and checked to have happened before its
# outcome is checked:
#  - pins removed from bpffs (a map, a link, then the whole pin directory): the agent pins
#    them again from the fds it holds, traffic never stops, a metric counts it;
#  - a full map (--max-services small): the error names the map and the flag, a metric
#    counts it, every other Service keeps working and keeps following its endpoints;
#  - clients that connect and say nothing, or send an oversized request, to the health and
#    metrics ports: every other client is still answered.
source "$(dirname "$0")/preamble.sh"

manifests=$(sim_manifests "$here/manifests")
require sim_reference_cluster
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metrics_port=$(free_port)
healthz_port=$(free_port)
max_services=24
sim_agent node1 "$manifests" --service-cidr 10.32.0.0/24,fd00:32::/108 --max-services "$max_services" \
  --metrics-bind-address "127.0.0.1:$metrics_port" --healthz-bind-address "127.0.0.1:$healthz_port"
agent=$SIM_LAST_PID
pin=$(sim_pin_dir node1)
log="$SIM_TMP/agent-node1.log"
metrics="http://127.0.0.1:$metrics_port/metrics"

in_client() { sim_exec busybox "$@"; }
metric() {  # NAME{LABELS}: its value in a fresh scrape (empty when absent)
  curl -s --max-time 3 "$metrics" | awk -v name="$1" '$1 == name { print $2 }'
}
metric_is() { test "$(metric "$1")" = "$2"; }
backends() {  # VIP:PORT -> number of backends programmed, or "absent"
  "$SIM_BPFPROXY" service list --pin-dir "$pin" -o json | python3 -c "
import json, sys
f = [s for s in json.load(sys.stdin) if s['frontend'] == '$1']
print(len(f[0]['backends']) if f else 'absent')"
}
has_backends() { test "$(backends "$1")" = "$2"; }
nginx_answers() { in_client curl -s --max-time 3 http://10.32.0.140/ | grep -q 'pod nginx-'; }
nginx_pods_answering() {
  local i
  for i in $(seq 20); do in_client curl -s --max-time 3 http://10.32.0.140/; done |
    grep -o 'pod nginx-[0-9]' | sort -u | wc -l
}
set_nginx2_ready() {  # true|false: nginx-2's readiness in the IPv4 slice, written atomically
  python3 - "$manifests/nginx.yaml" "$1" "$SIM_TMP/nginx.yaml.new" <<'PY'
import re, sys, os
path, ready, temp = sys.argv[1:]
text = open(path).read()
text = re.sub(r"(- addresses: \[10\.200\.128\.1\]\n  conditions: \{ready: )(true|false)", r"\g<1>" + ready, text, count=1)
open(temp, "w").write(text)
os.rename(temp, path)
PY
}

require sim_wait_for "the agent to program nginx" 20 has_backends 10.32.0.140:80 2
require sim_wait_for "nginx pods" 10 in_client curl -s --max-time 1 http://10.200.128.1/
require sim_wait_for "the metrics port" 10 curl -s --max-time 1 "$metrics"

echo "--- pins removed under the running agent"
sim_spawn busybox "$SIM_TMP/keepalive.log" python3 "$here/keepalive_client.py" 10.32.0.140 80 20
keepalive=$SIM_LAST_PID
svc_name=$(cd "$pin/maps" && ls -d bpx_svc_v*)  # the service map, whatever its layout version
svc_map="$pin/maps/$svc_name"
connect_link="$pin/links/bpx_connect4"
require test -e "$svc_map"
require rm "$svc_map" "$connect_link"
check "the fault happened: the agent saw both pins removed" \
  sim_wait_for "the agent's report" 10 bash -c "test \$(grep -c 'was removed from bpffs; pinned it again' '$log') -ge 2"
check "the map and the link are pinned again" test -e "$svc_map" -a -e "$connect_link"
check "bpfproxy_pin_faults_total{outcome=\"repaired\"} counts both" \
  metric_is 'bpfproxy_pin_faults_total{outcome="repaired"}' 2
check "new connections through the ClusterIP work (the connect program stayed attached)" nginx_answers
check "the CLI reads the re-pinned maps" has_backends 10.32.0.140:80 2

require rm -rf "$pin"
require test ! -e "$pin/maps"
check "the whole pin directory removed: every map and link pinned again" \
  sim_wait_for "the pins" 10 test -e "$svc_map" -a -e "$connect_link" -a -e "$pin/maps/bpx_be_v1"
set_nginx2_ready "false"
check "the agent still programs changes into the re-pinned maps" \
  sim_wait_for "nginx-2 to leave" 10 has_backends 10.32.0.140:80 1
check "nginx answers through the ClusterIP after the directory was removed" nginx_answers
wait "$keepalive"
keepalive_rc=$?
check "one TCP connection kept working while the pins were removed" test "$keepalive_rc" = 0

echo "--- a full map: --max-services $max_services"
extra="$manifests/extra.yaml"
for i in $(seq 1 30); do
  cat >> "$extra" <<YAML
---
apiVersion: v1
kind: Service
metadata: {name: extra-$i, namespace: default}
spec:
  clusterIP: 10.32.0.$((200 + i))
  ports: [{port: 80, protocol: TCP, targetPort: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: extra-$i, namespace: default, labels: {kubernetes.io/service-name: extra-$i}}
addressType: IPv4
endpoints: [{addresses: [10.200.0.2], conditions: {ready: true}}]
ports: [{port: 80, protocol: TCP}]
YAML
done
check "the fault happened: the error names the map and the flag that sizes it" \
  sim_wait_for "the full-map error" 20 grep -q "$svc_name is full ($max_services entries): raise --max-services" "$log"
full=$(metric "bpfproxy_map_full_total{map=\"$svc_name\"}")
check "bpfproxy_map_full_total{map=\"$svc_name\"} counts it (got ${full:-none})" test "${full:-0}" != 0
programmed_extra=$("$SIM_BPFPROXY" service list --pin-dir "$pin" -o json |
  python3 -c "import json,sys; print(sum(1 for s in json.load(sys.stdin) if s['frontend'].startswith('10.32.0.2')))")
check "some extra Services fit, not all 30 (got $programmed_extra)" test "$programmed_extra" -gt 0 -a "$programmed_extra" -lt 30
check "nginx keeps answering with the map full" nginx_answers
set_nginx2_ready "true"
check "nginx still follows its endpoints with the map full" \
  sim_wait_for "nginx-2 back" 10 has_backends 10.32.0.140:80 2
check "both nginx pods answer" test "$(nginx_pods_answering)" = 2
rm "$extra"
check "the extra Services leave the maps when deleted" \
  sim_wait_for "the extra Services to leave" 15 has_backends 10.32.0.201:80 absent

echo "--- silent and oversized clients on the health and metrics ports"
python3 - "$healthz_port" "$metrics_port" > "$SIM_TMP/slow_clients.log" 2>&1 <<'PY' &
import socket, sys, time
socks = []
for port in map(int, sys.argv[1:]):
    for _ in range(20):  # connect and say nothing
        socks.append(socket.create_connection(("127.0.0.1", port)))
    big = socket.create_connection(("127.0.0.1", port))  # a request with no end
    big.sendall(b"GET /metrics HTTP/1.1\r\nX-Padding: " + b"a" * 65536)
    socks.append(big)
print("opened", len(socks), flush=True)
time.sleep(20)
PY
slow=$!
SIM_PIDS+=("$slow")
require sim_wait_for "the slow clients to connect" 10 grep -q "opened 42" "$SIM_TMP/slow_clients.log"
check "the fault happened: 40 silent connections to the agent's ports are open" \
  test "$(ss -tn state established "( dport = :$healthz_port or dport = :$metrics_port )" | tail -n +2 | wc -l)" -ge 40
check "/healthz answers meanwhile" test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$healthz_port/healthz")" = 200
check "/metrics answers meanwhile" bash -c "curl -s --max-time 3 '$metrics' | grep -q '^bpfproxy_build_info'"
answer=$(python3 - "$healthz_port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
try:
    s.sendall(b"GET /healthz HTTP/1.1\r\nX-Padding: " + b"a" * (1 << 20))
except OSError:
    pass
try:
    print(s.recv(64).decode(errors="replace").splitlines()[0])
except (OSError, IndexError):
    print("no answer")
PY
)
check "an oversized request is refused with 431 (got '$answer')" test "$answer" = "HTTP/1.1 431 Request Header Fields Too Large"
kill "$slow" 2>/dev/null

e2e_finish
