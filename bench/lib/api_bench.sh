# shellcheck shell=bash
# The agent against the Kubernetes API, sourced by scripts/bench.sh: the fake API server
# (tests/fake_apiserver, plain HTTP on the node namespace's loopback) and the socket agent
# with --kubeconfig, in the socket path's node namespace. Two figures, each from the moment
# the fake server wrote the last watch event (it records when, in /state):
#   burst:  every Service and EndpointSlice of the scale created at once; until the agent's
#           sync line reports all of them programmed (the log's timestamp);
#   change: one endpoint of the probe Service replaced (then put back) through the API;
#           until the map holds it (bench/map_probe.cpp `wait`, polling every 50 µs).

# api_control PATH [FILE]: a GET, or with FILE a POST of it, to the fake server's control port.
api_control() {
  if [ -n "${2:-}" ]; then
    bench_in sock n curl -sf -X POST -H "Content-Type: application/json" --data-binary @"$2" \
      "http://127.0.0.1:$API_CONTROL_PORT$1"
  else
    bench_in sock n curl -sf "http://127.0.0.1:$API_CONTROL_PORT$1"
  fi
}
api_state() { api_control /state | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# api_latency SCALE FRONTENDS BACKENDS ROUNDS: the agent from the API; records api_burst and api_change.
api_latency() {
  local n=$1 frontends=$2 backends=$3 rounds=$4 c="$RUN/cluster-$1" dir="$RUN/api-$1"
  mkdir -p "$dir"
  # nsenter execs the server, so $! is the server's own PID.
  nsenter --net="/run/netns/$(bench_ns sock n)" python3 "$root/tests/fake_apiserver/fake_apiserver.py" \
    --ready-file "$dir/ready.json" --bookmark-interval 60 >"$dir/fake.log" 2>&1 &
  local fake=$!
  SIM_PIDS+=("$fake")
  sim_wait_for "the fake API server" 20 test -s "$dir/ready.json" || return 1
  local api_port
  api_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["apiPort"])' "$dir/ready.json")
  API_CONTROL_PORT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["controlPort"])' "$dir/ready.json")
  cat > "$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: bench
  cluster: {server: "http://127.0.0.1:$api_port"}
users:
- name: bench
  user: {}
contexts:
- name: bench
  context: {cluster: bench, user: bench}
current-context: bench
EOF
  # Every object of the scale in one List, the probe's slice included.
  python3 - "$c/manifests/services.json" "$c/manifests/probe.json" "$dir/burst.json" <<'EOF'
import json, sys
items = json.load(open(sys.argv[1]))["items"] + [json.load(open(sys.argv[2]))]
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(sys.argv[3], "w"), separators=(",", ":"))
EOF
  bench_agent_with sock --kubeconfig "$dir/kubeconfig" --cgroup "$(bench_cg sock-client)" "${SOCK_FLAGS[@]}"
  local log=${BENCH_AGENT_LOG[sock]}
  if ! sim_wait_for "the API agent's first sync" 60 grep -q "sync:" "$log"; then
    sed 's/^/      /' "$log" | tail -5
    bench_agent_stop sock
    return 1
  fi

  # The burst: the POST returns once every object is stored, and events go out as it runs.
  api_control /objects "$dir/burst.json" >/dev/null || { echo "bench: posting the burst failed" >&2; return 1; }
  local done_pattern="$frontends frontends, $backends backends programmed"
  if sim_wait_for "the burst programmed ($done_pattern)" 120 grep -q "$done_pattern" "$log"; then
    local last line
    last=$(api_state lastEventWall)
    line=$(grep -m1 "$done_pattern" "$log")
    record "$(printf '{"kind":"api_burst","scale":%s,"ms":%s,"syncs":%s}' "$n" \
      "$(ms_between "$(log_time "$line")" "$last")" \
      "$(grep -c "sync:" "$log")")"
  else
    not_measured "API burst at $n Services" "the agent did not report every Service programmed"
  fi

  # One endpoint change at a time, through the API.
  local vip port tport old new round direction file wanted at
  read -r vip port tport old new <<<"$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["probe"]; print(p["vip"], p["port"], p["target_port"], p["old_endpoint"], p["new_endpoint"])' "$c/cluster.json")"
  for ((round = 1; round <= rounds; round++)); do
    for direction in change revert; do
      [ $direction = change ] && { file="$c/change/probe.json"; wanted=$new; } || { file="$c/manifests/probe.json"; wanted=$old; }
      "$BENCH_TOOLS/bpx_map_probe" wait --pin-dir "$(bench_pin sock)" --frontend "$vip:$port/TCP" \
        --backend "$wanted:$tport" --timeout-ms 10000 > "$dir/probe.out" &
      local probe=$!
      sleep 0.05  # the probe polling before the event
      api_control /objects "$file" >/dev/null
      wait "$probe"
      at=$(json_field "$(cat "$dir/probe.out")" monotonic)
      last=$(api_state lastEventMonotonic)
      [ -n "$at" ] && record "$(printf '{"kind":"api_change","scale":%s,"round":%s,"direction":"%s","ms":%s}' "$n" "$round" \
        "$direction" "$(ms_between "$at" "$last")")"
    done
  done
  bench_agent_stop sock
  kill "$fake" 2>/dev/null
  wait "$fake" 2>/dev/null
}
