# shellcheck shell=bash
# A simulated cluster made of network namespaces: nodes joined by a link, pods on a bridge
# in their node, and one cgroup per node that the node's bpfproxy attaches to. Sourced by
# scripts/demo.sh and the end-to-end tests. Everything made is recorded and removed by
# sim_cleanup, which callers run from an EXIT trap.
#
# Traffic to pod and service addresses only ever leaves processes inside these namespaces
# (sim_exec uses nsenter, never the host namespace).

SIM_TAG=${SIM_TAG:-bpx$$}
SIM_NETNS=()      # namespaces made, removed at cleanup
SIM_PIDS=()       # processes started, killed by PID at cleanup
SIM_CGROUPS=()    # cgroups made, removed deepest first
SIM_PINS=()       # bpffs pin directories handed to agents
SIM_TMP=$(mktemp -d /tmp/bpfproxy-sim.XXXXXX)
SIM_BPFPROXY=${SIM_BPFPROXY:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bpfproxy}
declare -A SIM_POD_CGROUP

sim_cgroup2_root() {
  awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo
}

sim_init() {
  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
  SIM_CG_ROOT="$(sim_cgroup2_root)"
  [ -n "$SIM_CG_ROOT" ] || { echo "sim: no cgroup v2 mount in /proc/self/mountinfo" >&2; return 1; }
  SIM_CG_ROOT="$SIM_CG_ROOT/bpfproxy-$SIM_TAG"
  mkdir -p "$SIM_CG_ROOT"
  SIM_CGROUPS+=("$SIM_CG_ROOT")
}

# sim_node NAME: a node namespace with a bridge for its pods and forwarding on.
# sim_node NAME BRIDGE_V4/LEN BRIDGE_V6/LEN
sim_node() {
  local node=$1 v4=$2 v6=$3 ns="$SIM_TAG-$1"
  ip netns add "$ns"
  SIM_NETNS+=("$ns")
  sim_in "$node" ip link set lo up
  sim_in "$node" ip link add br0 type bridge
  sim_in "$node" ip addr add "$v4" dev br0
  sim_in "$node" ip -6 addr add "$v6" dev br0 nodad
  sim_in "$node" ip link set br0 up
  sim_in "$node" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  mkdir -p "$SIM_CG_ROOT/$node"
  SIM_CGROUPS+=("$SIM_CG_ROOT/$node")
}

# sim_in NODE CMD...: run CMD in the node's namespace.
sim_in() {
  local ns="$SIM_TAG-$1"; shift
  nsenter --net="/run/netns/$ns" "$@"
}

# sim_link NODE_A ADDR_A NODE_B ADDR_B: a point-to-point link between two nodes (/30, /126).
sim_link() {
  local a=$1 a4=$2 a6=$3 b=$4 b4=$5 b6=$6
  ip link add "l-$SIM_TAG-a" type veth peer name "l-$SIM_TAG-b"
  ip link set "l-$SIM_TAG-a" netns "$SIM_TAG-$a" name eth0
  ip link set "l-$SIM_TAG-b" netns "$SIM_TAG-$b" name eth0
  sim_in "$a" ip addr add "$a4/30" dev eth0
  sim_in "$b" ip addr add "$b4/30" dev eth0
  sim_in "$a" ip -6 addr add "$a6/126" dev eth0 nodad
  sim_in "$b" ip -6 addr add "$b6/126" dev eth0 nodad
  sim_in "$a" ip link set eth0 up
  sim_in "$b" ip link set eth0 up
}

# sim_route NODE CIDR VIA
sim_route() { sim_in "$1" ip route add "$2" via "$3"; }

# sim_pod NODE POD IPV4 GW4 IPV6 GW6: a pod namespace on the node's bridge, in the node's
# cgroup (so the node's socket hooks apply to it).
sim_pod() {
  local node=$1 pod=$2 ip4=$3 gw4=$4 ip6=$5 gw6=$6
  local ns="$SIM_TAG-$pod" index=${#SIM_NETNS[@]}
  ip netns add "$ns"
  SIM_NETNS+=("$ns")
  ip link add "p$index-$SIM_TAG" type veth peer name "h$index-$SIM_TAG"
  ip link set "p$index-$SIM_TAG" netns "$ns" name eth0
  ip link set "h$index-$SIM_TAG" netns "$SIM_TAG-$node"
  sim_in "$node" ip link set "h$index-$SIM_TAG" master br0 up
  nsenter --net="/run/netns/$ns" ip link set lo up
  nsenter --net="/run/netns/$ns" ip addr add "$ip4" dev eth0
  nsenter --net="/run/netns/$ns" ip -6 addr add "$ip6" dev eth0 nodad
  nsenter --net="/run/netns/$ns" ip link set eth0 up
  nsenter --net="/run/netns/$ns" ip route add default via "$gw4"
  nsenter --net="/run/netns/$ns" ip -6 route add default via "$gw6"
  mkdir -p "$SIM_CG_ROOT/$node/$pod"
  SIM_CGROUPS+=("$SIM_CG_ROOT/$node/$pod")
  SIM_POD_CGROUP[$pod]="$SIM_CG_ROOT/$node/$pod"
}

# sim_exec POD CMD...: run CMD as a process of the pod: its cgroup, its network namespace.
# The shell moves itself into the cgroup, then execs nsenter, which execs CMD: one PID.
SIM_EXEC_SCRIPT='echo $$ > "$1/cgroup.procs" && shift && shift && exec nsenter --net="/run/netns/$0" "$@"'
sim_exec() {
  local pod=$1; shift
  sh -c "$SIM_EXEC_SCRIPT" "$SIM_TAG-$pod" "${SIM_POD_CGROUP[$pod]}" -- "$@"
}

# sim_spawn POD LOG CMD...: like sim_exec, in the background; the PID lands in SIM_LAST_PID.
sim_spawn() {
  local pod=$1 log=$2; shift 2
  sh -c "$SIM_EXEC_SCRIPT" "$SIM_TAG-$pod" "${SIM_POD_CGROUP[$pod]}" -- "$@" >"$log" 2>&1 &
  SIM_LAST_PID=$!
  SIM_PIDS+=("$SIM_LAST_PID")
}

# sim_nginx POD: nginx serving a page that names the pod, on port 80 (v4 and v6).
sim_nginx() {
  local pod=$1 dir="$SIM_TMP/nginx-$1"
  mkdir -p "$dir/html"
  echo "<title>Welcome to nginx!</title> served by pod $pod" > "$dir/html/index.html"
  cat > "$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
user root;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 256; }
http {
  access_log off;
  # Tests keep one connection open for minutes (a request every 100 ms): nginx's default
  # closes a connection after 1,000 requests, which a loaded machine's slow test reaches.
  keepalive_requests 1000000;
  client_body_temp_path $dir;
  proxy_temp_path $dir;
  fastcgi_temp_path $dir;
  uwsgi_temp_path $dir;
  scgi_temp_path $dir;
  server {
    listen 80;
    listen [::]:80;
    root $dir/html;
  }
}
EOF
  sim_spawn "$pod" "$dir/stdout.log" nginx -c "$dir/nginx.conf" -e "$dir/error.log"
}

# sim_dns POD: dnsmasq answering for cluster.local like kube-dns would (UDP and TCP 53).
sim_dns() {
  local pod=$1 dir="$SIM_TMP/dns-$1"
  mkdir -p "$dir"
  cat > "$dir/hosts" <<EOF
10.32.0.1 kubernetes.default.svc.cluster.local
10.32.0.10 kube-dns.kube-system.svc.cluster.local
10.32.0.140 nginx.default.svc.cluster.local
fd00:32::140 nginx.default.svc.cluster.local
EOF
  sim_spawn "$pod" "$dir/dnsmasq.log" dnsmasq --keep-in-foreground --no-resolv --no-hosts \
    --addn-hosts="$dir/hosts" --pid-file="$dir/dnsmasq.pid" --user=root --port=53 \
    --domain=cluster.local --local=/cluster.local/ --log-facility=-
}

# sim_agent NODE MANIFESTS [ARGS...]: bpfproxy for one node, attached to the node's cgroup.
sim_agent() {
  local node=$1 manifests=$2; shift 2
  sim_agent_with "$node" --manifests "$manifests" "$@"
}

# sim_agent_with NODE ARGS...: bpfproxy for one node with the source given in ARGS.
sim_agent_with() {
  local node=$1; shift
  local pin="/sys/fs/bpf/bpfproxy-$SIM_TAG-$node"
  [[ " ${SIM_PINS[*]} " == *" $pin "* ]] || SIM_PINS+=("$pin")
  # Agents run in the host namespace: no metrics or health port unless the test asks for
  # one (the last --*-bind-address given wins), and no TC programs on the host's devices
  # (sim_agent_tc runs an agent inside the node's namespace for that).
  "$SIM_BPFPROXY" agent --cgroup "$SIM_CG_ROOT/$node" --pin-dir "$pin" \
    --node-name "$node" --min-sync-period 0 --metrics-bind-address "" --healthz-bind-address "" \
    --devices none "$@" >>"$SIM_TMP/agent-$node.log" 2>&1 &
  SIM_LAST_PID=$!
  SIM_PIDS+=("$SIM_LAST_PID")
}

# sim_manifests SRC_DIR...: a private copy of the *.yaml the agents read, which a test may
# edit; prints its path.
sim_manifests() {
  local dir="$SIM_TMP/manifests" src
  mkdir -p "$dir"
  for src in "$@"; do cp "$src"/*.yaml "$dir/"; done
  echo "$dir"
}

sim_pin_dir() { echo "/sys/fs/bpf/bpfproxy-$SIM_TAG-$1"; }

# sim_wait_for DESCRIPTION SECONDS CMD...: polls CMD until it succeeds, bounded.
sim_wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "sim: timed out after ${seconds}s waiting for $what" >&2
      return 1
    fi
    sleep 0.1
  done
}

sim_cleanup() {
  set +e  # best effort: one failure must not leave the rest behind
  local pid pin ns i
  for pid in "${SIM_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${SIM_PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for pin in "${SIM_PINS[@]}"; do
    "$SIM_BPFPROXY" cleanup --pin-dir "$pin" >/dev/null 2>&1 || rm -rf "$pin"
  done
  for ns in "${SIM_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  for ((i = ${#SIM_CGROUPS[@]} - 1; i >= 0; i--)); do rmdir "${SIM_CGROUPS[$i]}" 2>/dev/null; done
  [ -n "${SIM_KEEP_TMP:-}" ] || rm -rf "$SIM_TMP"
}

# The reference cluster of the networking tutorial: node1 and node2, nginx pods at
# 10.200.0.2 and 10.200.128.1, kube-dns at 10.200.128.2, a busybox client on node1.
sim_reference_cluster() {
  sim_init
  sim_node node1 10.200.127.254/17 fd00:200::1:ffff/112
  sim_node node2 10.200.255.254/17 fd00:200::2:ffff/112
  sim_link node1 172.31.254.1 fd00:ffff::1 node2 172.31.254.2 fd00:ffff::2
  sim_route node1 10.200.128.0/17 172.31.254.2
  sim_route node2 10.200.0.0/17 172.31.254.1
  sim_route node1 fd00:200::2:0/112 fd00:ffff::2
  sim_route node2 fd00:200::1:0/112 fd00:ffff::1
  sim_pod node1 nginx-1 10.200.0.2/17 10.200.127.254 fd00:200::1:2/112 fd00:200::1:ffff
  sim_pod node2 nginx-2 10.200.128.1/17 10.200.255.254 fd00:200::2:1/112 fd00:200::2:ffff
  sim_pod node2 kube-dns 10.200.128.2/17 10.200.255.254 fd00:200::2:2/112 fd00:200::2:ffff
  sim_pod node1 busybox 10.200.0.10/17 10.200.127.254 fd00:200::1:10/112 fd00:200::1:ffff
  sim_nginx nginx-1
  sim_nginx nginx-2
  sim_dns kube-dns
}

# --- The per-packet datapath: an external network and agents inside node namespaces.

# sim_nodeport_cluster ECHO_SCRIPT: the reference cluster, the LAN of sim_lan with an
# external client at 192.168.50.100, and ECHO_SCRIPT (tests/e2e/peer_echo.py) answering on
# port 8080 in both nginx pods.
sim_nodeport_cluster() {
  sim_reference_cluster || return 1
  sim_lan node1 node2 || return 1
  sim_external_client client 192.168.50.100/24 fd00:50::100/64 || return 1
  sim_spawn nginx-1 "$SIM_TMP/echo-1.log" python3 "$1" 8080 nginx-1
  sim_spawn nginx-2 "$SIM_TMP/echo-2.log" python3 "$1" 8080 nginx-2
}

# sim_agent_tc NODE MANIFESTS [ARGS...]: like sim_agent, but inside the node's network
# namespace (nsenter --net keeps bpffs and the cgroup mount visible), so --devices and
# --pod-devices name the node's own interfaces and ip_local_reserved_ports is the node's.
sim_agent_tc() {
  local node=$1 manifests=$2; shift 2
  local pin="/sys/fs/bpf/bpfproxy-$SIM_TAG-$node"
  [[ " ${SIM_PINS[*]} " == *" $pin "* ]] || SIM_PINS+=("$pin")
  nsenter --net="/run/netns/$SIM_TAG-$node" "$SIM_BPFPROXY" agent --manifests "$manifests" \
    --cgroup "$SIM_CG_ROOT/$node" --pin-dir "$pin" --node-name "$node" --min-sync-period 0 \
    --metrics-bind-address "" --healthz-bind-address "" \
    "$@" >>"$SIM_TMP/agent-$node.log" 2>&1 &
  SIM_LAST_PID=$!
  SIM_PIDS+=("$SIM_LAST_PID")
}

# sim_lan NODE...: an external network, a bridge in a namespace of its own, with each node
# joined to it by a device ext0 at 192.168.50.N/24 and fd00:50::N/64 (N = 1, 2, ... in
# argument order).
sim_lan() {
  local ns="$SIM_TAG-lan" i=1 node
  ip netns add "$ns"
  SIM_NETNS+=("$ns")
  nsenter --net="/run/netns/$ns" ip link add lan0 type bridge
  nsenter --net="/run/netns/$ns" ip link set lan0 up
  for node in "$@"; do
    ip link add "x$i-$SIM_TAG" type veth peer name "y$i-$SIM_TAG"
    ip link set "x$i-$SIM_TAG" netns "$SIM_TAG-$node"
    sim_in "$node" ip link set "x$i-$SIM_TAG" name ext0
    ip link set "y$i-$SIM_TAG" netns "$ns"
    nsenter --net="/run/netns/$ns" ip link set "y$i-$SIM_TAG" master lan0 up
    sim_in "$node" ip addr add "192.168.50.$i/24" dev ext0
    sim_in "$node" ip -6 addr add "fd00:50::$i/64" dev ext0 nodad
    sim_in "$node" ip link set ext0 up
    i=$((i + 1))
  done
}

# sim_external_client NAME IPV4/LEN IPV6/LEN: a host outside the cluster, on the LAN.
sim_external_client() {
  local name=$1 v4=$2 v6=$3 ns="$SIM_TAG-$1"
  ip netns add "$ns"
  SIM_NETNS+=("$ns")
  ip link add "c-$SIM_TAG" type veth peer name "d-$SIM_TAG"
  ip link set "c-$SIM_TAG" netns "$ns"
  nsenter --net="/run/netns/$ns" ip link set "c-$SIM_TAG" name eth0
  ip link set "d-$SIM_TAG" netns "$SIM_TAG-lan"
  nsenter --net="/run/netns/$SIM_TAG-lan" ip link set "d-$SIM_TAG" master lan0 up
  nsenter --net="/run/netns/$ns" ip link set lo up
  nsenter --net="/run/netns/$ns" ip addr add "$v4" dev eth0
  nsenter --net="/run/netns/$ns" ip -6 addr add "$v6" dev eth0 nodad
  nsenter --net="/run/netns/$ns" ip link set eth0 up
}

# sim_ext NAME CMD...: run CMD in an external client's namespace (no node's cgroup).
sim_ext() {
  local ns="$SIM_TAG-$1"; shift
  nsenter --net="/run/netns/$ns" "$@"
}
