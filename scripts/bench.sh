#!/usr/bin/env bash
# Benchmarks bpfproxy against the direct path and kube-proxy's rule shapes, in namespaces it
# makes and removes, and writes bench/results/ (results.json, results.md, PNG plots).
#
#   scripts/bench.sh [--quick] [--no-build] [--out DIR]
#
# --quick: 1 and 1,000 Services, 3 short rounds (under two minutes). Default: 1, 1,000 and
# 10,000 Services, 10 rounds (median and min-max of each figure; about 25 minutes). Both also
# time each BPF program alone under BPF_PROG_TEST_RUN (bench/prog_bench.cpp).
# Every path is measured in every round, in a rotating order, so that the ratios come from
# the same moments of a shared, noisy machine. docs/benchmarks.md explains each figure.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0 build=1 out="$root/bench/results"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --no-build) build=0 ;;
    --out) out=$2; shift ;;
    *) echo "usage: scripts/bench.sh [--quick] [--no-build] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "bench: run as root (namespaces, cgroups, BPF)" >&2; exit 2; }

if [ $quick = 1 ]; then
  SCALES="1 1000" ROUNDS=3 SECONDS_PER_TRIAL=0.5 STREAM_SECONDS=0.5 CHANGE_ROUNDS=2 COLD_ROUNDS=1 PROG_RUNS=3000 API_ROUNDS=10
else
  SCALES="1 1000 10000" ROUNDS=10 SECONDS_PER_TRIAL=1.5 STREAM_SECONDS=1 CHANGE_ROUNDS=3 COLD_ROUNDS=3 PROG_RUNS=20000 API_ROUNDS=50
fi
BENCH_BIN=${BENCH_BIN:-$root/build-bench}
BENCH_TOOLS=$BENCH_BIN/bench
if [ $build = 1 ]; then
  echo "bench: building into $BENCH_BIN"
  { cmake -S "$root" -B "$BENCH_BIN" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
    cmake --build "$BENCH_BIN" --target bpfproxy bench_tools -j2 >/dev/null; } ||
    { echo "bench: build failed" >&2; exit 1; }
fi

[ -x "$BENCH_BIN/bpfproxy" ] && [ -x "$BENCH_TOOLS/bpx_loadgen" ] ||
  { echo "bench: no bpfproxy or bench tools under $BENCH_BIN (drop --no-build, or set BENCH_BIN)" >&2; exit 1; }
SIM_BPFPROXY="$BENCH_BIN/bpfproxy"
SIM_TAG="bxb$$"
source "$root/scripts/lib/sim_cluster.sh"
source "$root/bench/lib/bench_env.sh"
source "$root/bench/lib/api_bench.sh"
declare -A BENCH_COUNTS
RUN="$SIM_TMP"
RESULTS="$RUN/results.jsonl"
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
bench_cleanup() {
  sysctl -qw kernel.bpf_stats_enabled="$stats_before"
  sim_cleanup
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

record() { echo "$1" >> "$RESULTS"; }
json_field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

have_tc=0 have_pod_tc=0
"$BENCH_BIN/bpfproxy" agent --help 2>/dev/null | grep -q -- --devices && have_tc=1
"$BENCH_BIN/bpfproxy" agent --help 2>/dev/null | grep -q -- --pod-devices && have_pod_tc=1
record "$(printf '{"kind":"meta","quick":%s,"date":"%s","kernel":"%s","cpus":%s,"commit":"%s","loadavg_start":"%s","iptables_restore":"%s","rounds":%s,"seconds_per_trial":%s}' \
  "$quick" "$(date -u +%FT%TZ)" "$(uname -r)" "$(nproc)" "$(git -C "$root" rev-parse --short HEAD)" \
  "$(loadavg)" "$BENCH_IPTABLES_RESTORE" "$ROUNDS" "$SECONDS_PER_TRIAL")"

not_measured() { record "$(printf '{"kind":"not_measured","what":"%s","why":"%s"}' "$1" "$2")"; echo "bench: not measured: $1: $2"; }

# --- the world ----------------------------------------------------------------------------
echo "bench: topologies"
sim_init || exit 1
MODES="dir sock ipt nft"
[ $have_tc = 1 ] && MODES="$MODES tc"
for m in $MODES; do bench_topology "$m" || exit 1; done
bench_cgroup server
bench_cgroup ext
for m in $MODES; do bench_server "$m" 3600; done

for n in $SCALES; do
  echo "bench: generating $n Services x 10 endpoints"
  python3 "$root/bench/gen_manifests.py" --services "$n" --out "$RUN/cluster-$n" &&
    python3 "$root/bench/gen_kube_proxy_rules.py" --cluster "$RUN/cluster-$n" \
      --cluster-cidr "$BENCH_CLUSTER_CIDR" --service-cidr "$BENCH_SERVICE_CIDR" || exit 1
  sed -i "s/NODE_IP/$BENCH_NODE_IP/" "$RUN/cluster-$n/targets/nodeport.txt"
done

# --- control plane ------------------------------------------------------------------------
SOCK_FLAGS=(--devices none --reserve-ports false)
# agent_cold MODE SCALE ROUND ARGS...: start from empty pins; time to the first sync's log
# line, by the line's own timestamp (polling the log would add up to its interval).
agent_cold() {
  local m=$1 n=$2 round=$3; shift 3
  local start line sync_ms
  start=$EPOCHREALTIME
  bench_agent "$m" "$@"
  if ! sim_wait_for "the $m agent's first sync at $n Services" 300 grep -q "sync:" "${BENCH_AGENT_LOG[$m]}"; then
    sed 's/^/      /' "${BENCH_AGENT_LOG[$m]}" | tail -5
    return 1
  fi
  line=$(grep -m1 "sync:" "${BENCH_AGENT_LOG[$m]}")
  sync_ms=$(sed -n 's/.* in \([0-9.]*\) ms.*/\1/p' <<<"$line")
  record "$(printf '{"kind":"cold","system":"%s","scale":%s,"round":%s,"ms":%s,"sync_ms":%s}' \
    "${COLD_SYSTEM:-bpfproxy-$m}" "$n" "$round" \
    "$(ms_between "$(log_time "$line")" "$start")" \
    "${sync_ms:-null}")"
}

# rules_load MODE SCALE: kube-proxy's full sync into an empty node namespace, timed.
rules_load() {
  local m=$1 n=$2 start end rc
  bench_rules_reset "$m"
  start=$(now_ms)
  if [ "$m" = ipt ]; then
    bench_in ipt n "$BENCH_IPTABLES_RESTORE" --noflush < "$RUN/cluster-$n/kube-proxy/iptables.rules"
  else
    bench_in nft n nft -f "$RUN/cluster-$n/kube-proxy/nft.rules"
  fi
  rc=$?
  end=$(now_ms)
  [ $rc = 0 ] || { echo "bench: loading the $m rules failed" >&2; return 1; }
  record "$(printf '{"kind":"cold","system":"%s","scale":%s,"round":1,"ms":%s}' \
    "$([ "$m" = ipt ] && echo iptables || echo nftables)" "$n" "$(elapsed_ms "$start" "$end")")"
}

memory() {  # SCALE: the socket agent's RSS and its maps' bytes
  local n=$1 pin; pin=$(bench_pin sock)
  local rss; rss=$(awk '/^VmRSS/ { print $2 }' "/proc/${BENCH_AGENT_PID[sock]}/status")
  local counts; counts=$("$BENCH_TOOLS/bpx_map_probe" count --pin-dir "$pin")
  BENCH_COUNTS[$n]=$counts
  local maps="" name bytes
  for name in "$pin"/maps/*; do
    bytes=$(bpftool map show pinned "$name" -j 2>/dev/null | json_field "$(cat)" bytes_memlock)
    maps+="${maps:+,}\"${name##*/}\":${bytes:-null}"
  done
  record "$(printf '{"kind":"memory","scale":%s,"rss_kb":%s,"counts":%s,"map_bytes":{%s}}' "$n" "$rss" "$counts" "$maps")"
}

# endpoint_changes SCALE: one endpoint of the probe Service replaced, and put back, per round.
endpoint_changes() {
  local n=$1 c="$RUN/cluster-$n" round direction file wanted start end out sync_ms rounds
  local vip port tport old new
  vip=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["probe"]; print(p["vip"], p["port"], p["target_port"], p["old_endpoint"], p["new_endpoint"])' "$c/cluster.json")
  read -r vip port tport old new <<<"$vip"
  cp "$c/manifests/probe.json" "$c/probe-original.json"
  for ((round = 1; round <= CHANGE_ROUNDS; round++)); do
    for direction in change revert; do
      [ $direction = change ] && { file="$c/change/probe.json"; wanted=$new; } || { file="$c/probe-original.json"; wanted=$old; }
      # bpfproxy: the manifest file replaced (rename) -> the maps hold the endpoint. The new
      # file is written outside the watched directory, so the rename is the only event.
      cp "$file" "$c/probe.next"
      local lines; lines=$(grep -c "sync:" "${BENCH_AGENT_LOG[sock]}")
      out=$("$BENCH_TOOLS/bpx_map_probe" change --pin-dir "$(bench_pin sock)" --frontend "$vip:$port/TCP" \
        --backend "$wanted:$tport" --install "$c/probe.next" --to "$c/manifests/probe.json" --timeout-ms 30000)
      sim_wait_for "the agent's sync line" 10 test "$(grep -c "sync:" "${BENCH_AGENT_LOG[sock]}")" -gt "$lines"
      sync_ms=$(grep "sync:" "${BENCH_AGENT_LOG[sock]}" | tail -1 | sed -n 's/.* in \([0-9.]*\) ms.*/\1/p')
      record "$(printf '{"kind":"change","system":"bpfproxy-sock","scale":%s,"round":%s,"direction":"%s","ms":%s,"sync_ms":%s}' \
        "$n" "$round" "$direction" "$(json_field "$out" ms)" "${sync_ms:-null}")"
      # kube-proxy: the partial iptables-restore and the nft transaction it would run.
      if [ "$n" -lt 10000 ] || [ "$round" -le 2 ]; then
        start=$(now_ms)
        bench_in ipt n "$BENCH_IPTABLES_RESTORE" --noflush < "$c/kube-proxy/iptables-$direction.rules"
        end=$(now_ms)
        record "$(printf '{"kind":"change","system":"iptables","scale":%s,"round":%s,"direction":"%s","ms":%s}' \
          "$n" "$round" "$direction" "$(elapsed_ms "$start" "$end")")"
      fi
      start=$(now_ms)
      bench_in nft n nft -f "$c/kube-proxy/nft-$direction.rules"
      end=$(now_ms)
      record "$(printf '{"kind":"change","system":"nftables","scale":%s,"round":%s,"direction":"%s","ms":%s}' \
        "$n" "$round" "$direction" "$(elapsed_ms "$start" "$end")")"
    done
  done
}

# --- data plane ---------------------------------------------------------------------------
# trial MODE TEST SCALE ROUND: one bounded run of the load generator; its JSON, labelled.
trial() {
  local m=$1 test=$2 n=$3 round=$4 t="$RUN/cluster-$3/targets" seconds=$SECONDS_PER_TRIAL
  local cg="$m-client" role=c mode targets out
  case $test in
    crr) mode=tcp-crr; targets=$t/tcp-vip.txt; [ "$m" = dir ] && targets=$t/tcp-direct.txt ;;
    udp) mode=udp-rr; targets=$t/udp-vip.txt; [ "$m" = dir ] && targets=$t/udp-direct.txt ;;
    stream) mode=tcp-stream; seconds=$STREAM_SECONDS; targets=$t/tcp-vip.txt; [ "$m" = dir ] && targets=$t/tcp-direct.txt ;;
    nodeport) mode=tcp-crr; cg=ext; role=x; targets=$t/nodeport.txt; [ "$m" = dir ] && targets=$t/nodeport-direct.txt ;;
  esac
  out=$(timeout 60 sh -c "$SIM_EXEC_SCRIPT" "$(bench_ns "$m" $role)" "$(bench_cg "$cg")" -- \
    "$BENCH_TOOLS/bpx_loadgen" $mode --targets "$targets" --seconds "$seconds" 2>&1 | tail -1)
  case $out in
    \{*) record "$(printf '{"kind":"trial","scale":%s,"mode":"%s","bench":"%s","round":%s,%s' "$n" "$m" "$test" "$round" "${out#\{}")" ;;
    *) record "$(printf '{"kind":"trial","scale":%s,"mode":"%s","bench":"%s","round":%s,"error":"%s"}' "$n" "$m" "$test" "$round" "${out//\"/\'}")" ;;
  esac
}

# works MODE TEST SCALE: a few requests get through (before a path is put in the table).
works() {
  local line
  line=$(SECONDS_PER_TRIAL=0.3 RESULTS=/dev/stdout trial "$@" 0 | tail -1)
  [ "$(json_field "$line" count 2>/dev/null)" -gt 0 ] 2>/dev/null
}

# bpf_stats SCALE: run time per call of our programs, over short socket-path runs with
# kernel.bpf_stats_enabled on (global: enabled only here, restored after).
bpf_stats() {
  local n=$1 link before after
  prog_stats() {  # "MODE {prog json}" per program linked under our pins
    local m link id
    for m in sock tc; do
      for link in $(find "$(bench_pin $m)/links" -type f 2>/dev/null); do
        id=$(bpftool link show pinned "$link" -j 2>/dev/null | json_field "$(cat)" prog_id)
        [ -n "$id" ] && echo "$m $(bpftool prog show id "$id" -j 2>/dev/null)"
      done
    done
  }
  before=$(prog_stats)
  sysctl -qw kernel.bpf_stats_enabled=1
  RESULTS=/dev/null trial sock crr "$n" 0
  RESULTS=/dev/null trial sock udp "$n" 0
  [[ " $NODEPORT_MODES " == *" tc "* ]] && RESULTS=/dev/null trial tc nodeport "$n" 0
  [[ " $CLUSTERIP_MODES " == *" tc "* ]] && RESULTS=/dev/null trial tc crr "$n" 0
  sysctl -qw kernel.bpf_stats_enabled="$stats_before"
  after=$(prog_stats)
  record "$(python3 - "$n" "$before" "$after" <<'EOF'
import json, sys
def parse(text):
    out = {}
    for line in text.splitlines():
        mode, _, prog = line.partition(" ")
        if prog.strip():
            p = json.loads(prog)
            out[(mode, p["id"])] = dict(p, mode=mode)
    return out
before, after = parse(sys.argv[2]), parse(sys.argv[3])
programs = {}
for pid, p in after.items():
    b = before.get(pid, {})
    cnt = p.get("run_cnt", 0) - b.get("run_cnt", 0)
    ns = p.get("run_time_ns", 0) - b.get("run_time_ns", 0)
    programs[f'{p["mode"]}/{p.get("name", pid[1])}'] = {"run_cnt": cnt, "run_time_ns": ns, "ns_per_call": round(ns / cnt, 1) if cnt else None}
print(json.dumps({"kind": "bpf_stats", "scale": int(sys.argv[1]), "programs": programs}))
EOF
)"
}

for n in $SCALES; do
  echo "bench: $n Services: programming (load average $(loadavg))"
  c="$RUN/cluster-$n"
  agent_cold sock "$n" 1 "$c/manifests" --cgroup "$(bench_cg sock-client)" "${SOCK_FLAGS[@]}" || exit 1
  memory "$n"
  CLUSTERIP_MODES="dir sock ipt nft" NODEPORT_MODES="dir ipt nft"
  if [ $have_tc = 1 ]; then
    mkdir -p "$c/manifests-tc"
    ln -sf "$c/manifests/services.json" "$c/manifests/probe.json" "$c/manifests-tc/"
    printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"client","namespace":"bench","labels":{"bpfproxy.io/socket-lb":"bypass"}},"spec":{"nodeName":"client"},"status":{"podIPs":[{"ip":"%s"}]}}\n' \
      "$BENCH_CLIENT_IP" > "$c/manifests-tc/client-pod.json"
    # Backends sit behind srv0: replies of translated NodePort flows come back through it.
    tc_args=(--cgroup "$(bench_cg tc-node)" --devices ext0,srv0 --reserve-ports false)
    [ $have_pod_tc = 1 ] && tc_args+=(--pod-devices pod0)
    if agent_cold tc "$n" 1 "$c/manifests-tc" "${tc_args[@]}"; then
      if works tc nodeport "$n"; then NODEPORT_MODES+=" tc"; else not_measured "TC NodePort at $n Services" "no answer through the TC path (agent log: ${BENCH_AGENT_LOG[tc]##*/})"; fi
      if [ $have_pod_tc = 1 ] && works tc crr "$n"; then CLUSTERIP_MODES+=" tc"; else not_measured "TC ClusterIP at $n Services" "no answer through the pod-facing TC path"; fi
    else
      not_measured "TC path at $n Services" "the agent with --devices did not sync"
    fi
  fi
  rules_load ipt "$n" || exit 1
  rules_load nft "$n" || exit 1

  echo "bench: $n Services: data plane, $ROUNDS rounds (load average $(loadavg))"
  for ((round = 1; round <= ROUNDS; round++)); do
    # Rotate the order each round: no path always runs first, or right after another.
    read -ra modes <<<"$CLUSTERIP_MODES"
    k=$(( (round - 1) % ${#modes[@]} ))
    ordered=("${modes[@]:k}" "${modes[@]:0:k}")
    for test in crr udp stream; do
      for m in "${ordered[@]}"; do trial "$m" "$test" "$n" "$round"; done
    done
    for m in $NODEPORT_MODES; do trial "$m" nodeport "$n" "$round"; done
  done
  bpf_stats "$n"

  echo "bench: $n Services: endpoint changes (load average $(loadavg))"
  endpoint_changes "$n"
  for ((round = 2; round <= COLD_ROUNDS; round++)); do
    bench_agent_stop sock
    agent_cold sock "$n" "$round" "$c/manifests" --cgroup "$(bench_cg sock-client)" "${SOCK_FLAGS[@]}" || exit 1
  done
  bench_agent_stop sock
  # The same cluster as 100 multi-document YAML files, the way people write manifests.
  COLD_SYSTEM=bpfproxy-sock-yaml agent_cold sock "$n" 1 "$c/manifests-yaml" --cgroup "$(bench_cg sock-client)" \
    "${SOCK_FLAGS[@]}" || not_measured "cold start from YAML at $n Services" "the agent did not sync"
  bench_agent_stop sock
  if [ "$n" = "${SCALES##* }" ]; then  # the largest scale: the same Services through the API
    echo "bench: $n Services: the Kubernetes API source (load average $(loadavg))"
    api_latency "$n" "$(json_field "${BENCH_COUNTS[$n]}" frontends)" "$(json_field "${BENCH_COUNTS[$n]}" backends)" \
      "$API_ROUNDS" || not_measured "the API source at $n Services" "the agent or the fake API server did not start"
  fi
  bench_agent_stop tc
  bench_rules_reset ipt
  bench_rules_reset nft
done

echo "bench: controller micro-benchmarks"
if [ -x "$BENCH_TOOLS/bpx_controller_bench" ]; then
  "$BENCH_TOOLS/bpx_controller_bench" --benchmark_format=json --benchmark_min_time=0.2 2>/dev/null > "$RUN/micro.json" ||
    echo '{}' > "$RUN/micro.json"
else
  echo '{}' > "$RUN/micro.json"
  not_measured "controller micro-benchmarks" "libbenchmark-dev not found at configure time"
fi
echo "bench: BPF programs under BPF_PROG_TEST_RUN"
if [ -x "$BENCH_TOOLS/bpx_prog_bench" ] &&
  "$BENCH_TOOLS/bpx_prog_bench" --services "${SCALES// /,}" --runs "$PROG_RUNS" --json "$RUN/prog.json" >/dev/null; then
  while read -r line; do record "$line"; done < <(python3 -c \
    'import json,sys; [print(json.dumps(dict(r, kind="prog"))) for r in json.load(open(sys.argv[1]))]' "$RUN/prog.json")
else
  not_measured "BPF programs under BPF_PROG_TEST_RUN" "bpx_prog_bench missing (no TC object) or failed"
fi
# The whole run, build included: --quick is meant to stay under two minutes.
record "$(printf '{"kind":"meta_end","loadavg_end":"%s","seconds":%s}' "$(loadavg)" "$SECONDS")"

mkdir -p "$out"
python3 "$root/bench/report.py" --results "$RESULTS" --micro "$RUN/micro.json" --out "$out" || exit 1
echo "bench: wrote $out/results.md, results.json and plots"
