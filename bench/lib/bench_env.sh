# shellcheck shell=bash
# The benchmark's world, sourced by scripts/bench.sh. One identical topology per compared
# path, all alive at once so that trials of different paths can be interleaved:
#
#   client (pod 10.120.0.2) ──pod0┐                 ┌srv0── server (answers 10.64.0.0/14)
#                                 node (router; the path under test lives here)
#   external (192.168.50.2) ──ext0┘  NodePorts on 192.168.50.1
#
# Namespaces, cgroups, processes and pins are recorded in sim_cluster.sh's lists, so that
# sim_cleanup (from the caller's EXIT trap) removes them all. Rules go only into the node
# namespaces made here; agents run inside them too (their metrics and health ports stay there).

BENCH_CLUSTER_CIDR=10.64.0.0/10
BENCH_SERVICE_CIDR=10.32.0.0/16
BENCH_NODE_IP=192.168.50.1
BENCH_CLIENT_IP=10.120.0.2
# kube-proxy's iptables mode writes with whatever iptables the node has; the nf_tables
# backend (iptables-nft-restore) needs minutes for 10,000 Services here, so the legacy
# backend is the one measured (see docs/benchmarks.md).
BENCH_IPTABLES_RESTORE=${BENCH_IPTABLES_RESTORE:-iptables-legacy-restore}
declare -A BENCH_AGENT_PID BENCH_AGENT_LOG

bench_ns() { echo "$SIM_TAG-$1-$2"; }     # MODE ROLE(c n s x)
bench_cg() { echo "$SIM_CG_ROOT/$1"; }     # NAME

bench_in() {  # MODE ROLE CMD...: in the namespace only (setup, rules, agents)
  local ns; ns=$(bench_ns "$1" "$2"); shift 2
  nsenter --net="/run/netns/$ns" "$@"
}

bench_cgroup() {
  mkdir -p "$(bench_cg "$1")"
  SIM_CGROUPS+=("$(bench_cg "$1")")
}

# bench_topology MODE: the four namespaces of one path, and its client and node cgroups.
bench_topology() {
  local m=$1 role
  for role in c n s x; do
    ip netns add "$(bench_ns "$m" "$role")"
    SIM_NETNS+=("$(bench_ns "$m" "$role")")
    bench_in "$m" "$role" ip link set lo up
  done
  ip link add eth0 netns "$(bench_ns "$m" c)" type veth peer name pod0 netns "$(bench_ns "$m" n)"
  ip link add eth0 netns "$(bench_ns "$m" s)" type veth peer name srv0 netns "$(bench_ns "$m" n)"
  ip link add eth0 netns "$(bench_ns "$m" x)" type veth peer name ext0 netns "$(bench_ns "$m" n)"
  bench_in "$m" n ip addr add 10.120.0.1/24 dev pod0
  bench_in "$m" n ip addr add 10.121.0.1/30 dev srv0
  bench_in "$m" n ip addr add "$BENCH_NODE_IP/24" dev ext0
  bench_in "$m" c ip addr add "$BENCH_CLIENT_IP/24" dev eth0
  bench_in "$m" s ip addr add 10.121.0.2/30 dev eth0
  bench_in "$m" x ip addr add 192.168.50.2/24 dev eth0
  for role in c s x; do bench_in "$m" "$role" ip link set eth0 up; done
  for role in pod0 srv0 ext0; do bench_in "$m" n ip link set "$role" up; done
  bench_in "$m" c ip route add default via 10.120.0.1
  bench_in "$m" x ip route add default via "$BENCH_NODE_IP"
  bench_in "$m" s ip route add default via 10.121.0.1
  bench_in "$m" n ip route add 10.64.0.0/14 via 10.121.0.2
  # The server answers every endpoint address without configuring 100,000 of them.
  bench_in "$m" s ip route add local 10.64.0.0/14 dev lo
  bench_in "$m" n sysctl -qw net.ipv4.ip_forward=1
  bench_in "$m" s sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
  bench_in "$m" c sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
  bench_in "$m" x sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
  bench_cgroup "$m-client"
  bench_cgroup "$m-node"
}

# bench_server MODE SECONDS: the TCP and UDP responder of the path's server namespace.
# Started directly (not through a function) so that $! is the server's own PID.
bench_server() {
  sh -c "$SIM_EXEC_SCRIPT" "$(bench_ns "$1" s)" "$(bench_cg server)" -- "$BENCH_TOOLS/bpx_loadgen" serve \
    --tcp-port 8080 --udp-port 5353 --seconds "$2" >"$RUN/server-$1.log" 2>&1 &
  SIM_PIDS+=("$!")
}

# bench_agent MODE MANIFESTS [ARGS...]: bpfproxy inside the node namespace, hooks on the
# path's client cgroup; pid in BENCH_AGENT_PID[MODE], log truncated.
bench_agent() {
  local m=$1 manifests=$2; shift 2
  bench_agent_with "$m" --manifests "$manifests" "$@"
}

# bench_agent_with MODE SOURCE-ARGS... [ARGS...]: the same with any source (--kubeconfig K).
bench_agent_with() {
  local m=$1; shift
  local pin="/sys/fs/bpf/bpfproxy-$SIM_TAG-$m" log="$RUN/agent-$m.log"
  [[ " ${SIM_PINS[*]} " == *" $pin "* ]] || SIM_PINS+=("$pin")
  : > "$log"
  nsenter --net="/run/netns/$(bench_ns "$m" n)" "$BENCH_BIN/bpfproxy" agent \
    --pin-dir "$pin" --node-name client --min-sync-period 0 \
    --service-cidr "$BENCH_SERVICE_CIDR" "$@" >>"$log" 2>&1 &
  BENCH_AGENT_PID[$m]=$!
  BENCH_AGENT_LOG[$m]=$log
  SIM_PIDS+=("$!")
}

bench_pin() { echo "/sys/fs/bpf/bpfproxy-$SIM_TAG-$1"; }

# bench_agent_stop MODE: stop it and remove its pins, so that the next start is cold.
bench_agent_stop() {
  local m=$1 pid=${BENCH_AGENT_PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  BENCH_AGENT_PID[$m]=
  "$BENCH_BIN/bpfproxy" cleanup --pin-dir "$(bench_pin "$m")" >/dev/null 2>&1 || rm -rf "$(bench_pin "$m")"
}

# bench_rules_reset MODE: an empty netfilter configuration in the node namespace.
bench_rules_reset() {
  bench_in "$1" n iptables-legacy -t nat -F 2>/dev/null
  bench_in "$1" n iptables-legacy -t nat -X 2>/dev/null
  bench_in "$1" n iptables-legacy -t filter -F 2>/dev/null
  bench_in "$1" n iptables-legacy -t filter -X 2>/dev/null
  bench_in "$1" n nft flush ruleset 2>/dev/null
  true
}

# now_ms: wall clock in milliseconds with microseconds, from bash itself.
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)).$((t % 1000 / 100)); }
elapsed_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# log_time LINE: the wall-clock seconds of an agent log line ("2026-12-01T08:26:47.030 info ...").
log_time() {
  python3 -c 'import datetime,sys; print(datetime.datetime.strptime(sys.argv[1].split()[0], "%Y-%m-%dT%H:%M:%S.%f").timestamp())' "$1"
}
# ms_between LATER EARLIER: the difference of two times in seconds, in milliseconds.
ms_between() { python3 -c 'import sys; print(round((float(sys.argv[1]) - float(sys.argv[2])) * 1000, 3))' "$1" "$2"; }
