#!/usr/bin/env bash
# The agent SIGKILLed in the middle of programming 10,000 Services, then restarted: the
# maps end equal to the source (`bpfproxy service list -o json` against what was
# generated), and a TCP connection open through a ClusterIP the whole time never breaks.
# The kill is made when the service map has grown by a few hundred entries, and checked to
# have landed mid-sync (some but not all of the new Services programmed) before the rest.
source "$(dirname "$0")/preamble.sh"
services=${BPFPROXY_E2E_KILL_SERVICES:-10000}

manifests=$(sim_manifests "$here/manifests")
require sim_reference_cluster
agent_args=(--service-cidr 10.32.0.0/24,fd00:32::/108,10.33.0.0/16)
sim_agent node1 "$manifests" "${agent_args[@]}"
agent=$SIM_LAST_PID
pin=$(sim_pin_dir node1)
log="$SIM_TMP/agent-node1.log"

programmed_json() { "$SIM_BPFPROXY" service list --pin-dir "$pin" -o json; }
has_nginx() { programmed_json | grep -q '"frontend":"10.32.0.140:80"'; }
require sim_wait_for "the agent to program nginx" 20 has_nginx
svc_map="$pin/maps/$(cd "$pin/maps" && ls -d bpx_svc_v*)"  # whatever its layout version
require sim_wait_for "nginx pods" 10 sim_exec busybox curl -s --max-time 1 http://10.200.128.1/
sim_spawn busybox "$SIM_TMP/keepalive.log" python3 "$here/keepalive_client.py" 10.32.0.140 80 90
keepalive=$SIM_LAST_PID

# The source: N Services in 10.33.0.0/16, port 80 -> 8080, two endpoints each.
expected="$SIM_TMP/expected.json"
python3 - "$services" "$SIM_TMP/many.json" "$expected" <<'PY'
import ipaddress, json, sys
n, out, expected = int(sys.argv[1]), sys.argv[2], sys.argv[3]
vip0, ep0 = ipaddress.IPv4Address("10.33.0.1"), ipaddress.IPv4Address("10.64.0.1")
items, want = [], {}
for i in range(n):
    name, vip = f"many-{i:05d}", str(vip0 + i)
    eps = [str(ep0 + 2 * i + j) for j in range(2)]
    items.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "many"},
                  "spec": {"clusterIP": vip, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}})
    items.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                  "metadata": {"name": name + "-x", "namespace": "many", "labels": {"kubernetes.io/service-name": name}},
                  "addressType": "IPv4", "ports": [{"port": 8080, "protocol": "TCP"}],
                  "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in eps]})
    want[vip + ":80"] = sorted(a + ":8080" for a in eps)
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(out, "w"), separators=(",", ":"))
json.dump(want, open(expected, "w"))
PY
kill "$agent"
wait "$agent" 2>/dev/null
baseline=$(python3 "$here/kill_mid_sync.py" count "$svc_map")
require test "$baseline" -gt 0

echo "--- the agent killed mid-sync"
attempt=0
killed_mid_sync=false
while [ $attempt -lt 3 ] && ! $killed_mid_sync; do
  attempt=$((attempt + 1))
  cp "$SIM_TMP/many.json" "$SIM_TMP/many.json.tmp" && mv "$SIM_TMP/many.json.tmp" "$manifests/many.json"
  sim_agent node1 "$manifests" "${agent_args[@]}"
  agent=$SIM_LAST_PID
  seen=$(python3 "$here/kill_mid_sync.py" kill "$svc_map" "$agent" "$baseline" 300 120)
  wait "$agent" 2>/dev/null
  rc=$?
  count=$(programmed_json | python3 -c "import json,sys; print(sum(1 for s in json.load(sys.stdin) if s['frontend'].startswith('10.33.')))")
  echo "      attempt $attempt: killed at $seen service-map entries (exit $rc); $count of $services Services programmed"
  if [ "$rc" = 137 ] && [ "$count" -gt 0 ] && [ "$count" -lt "$services" ]; then
    killed_mid_sync=true
  else  # too late or too early: start over from the small cluster
    rm -f "$manifests/many.json"
    sim_agent node1 "$manifests" "${agent_args[@]}"
    agent=$SIM_LAST_PID
    sim_wait_for "the many Services to leave" 60 bash -c "! $SIM_BPFPROXY service list --pin-dir $pin -o json | grep -q 10.33."
    kill "$agent"; wait "$agent" 2>/dev/null
  fi
done
check "the fault happened: SIGKILL landed with some but not all Services programmed" $killed_mid_sync
check "nginx answers with the agent dead" sim_exec busybox curl -s --max-time 3 -o /dev/null http://10.32.0.140/

echo "--- restarted"
: > "$log"
sim_agent node1 "$manifests" "${agent_args[@]}"
agent=$SIM_LAST_PID
all_programmed() {
  programmed_json > "$SIM_TMP/programmed.json" &&
    python3 - "$SIM_TMP/programmed.json" "$expected" <<'PY'
import json, sys
got = {s["frontend"]: sorted(b["address"] for b in s["backends"])
       for s in json.load(open(sys.argv[1])) if s["frontend"].startswith("10.33.")}
want = json.load(open(sys.argv[2]))
missing = [k for k in want if k not in got]
extra = [k for k in got if k not in want]
wrong = [k for k in want if k in got and got[k] != want[k]]
print(f"{len(got)} programmed, {len(missing)} missing, {len(extra)} extra, {len(wrong)} with other backends")
sys.exit(0 if not missing and not extra and not wrong else 1)
PY
}
require sim_wait_for "the restarted agent's first sync" 120 grep -q "sync:" "$log"
check "the maps equal the source: every Service, each with exactly its endpoints" all_programmed
python3 - "$SIM_TMP/programmed.json" "$expected" 2>/dev/null | sed 's/^/      /'
check "nginx still answers" sim_exec busybox curl -s --max-time 3 -o /dev/null http://10.32.0.140/
wait "$keepalive"
keepalive_rc=$?
sed 's/^/      /' "$SIM_TMP/keepalive.log" | tail -3
check "one TCP connection through 10.32.0.140 kept working across the kill and the restart" test "$keepalive_rc" = 0

e2e_finish
