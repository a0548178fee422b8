#!/usr/bin/env bash
# `bpfproxy takeover` on a node that kube-proxy ran on: node1's namespace holds the rules
# kube-proxy writes for the e2e Services (iptables mode in both back ends, the nftables
# mode's table, the IPVS mode's kube-ipvs0 device). doctor sees them as active; takeover
# --dry-run changes nothing; takeover removes them all and prints each; ClusterIPs and
# NodePorts keep answering through bpfproxy alone; after `bpfproxy cleanup` kube-proxy's
# rules can be written again and a ClusterIP then answers through them.
source "$(dirname "$0")/preamble.sh"
for tool in iptables-nft-restore iptables-nft-save nft; do
  command -v "$tool" >/dev/null || { echo "skip: $tool is not installed (scripts/setup.sh installs iptables, nftables)"; exit 77; }
done

manifests=$(sim_manifests "$here/manifests" "$here/manifests_nodeport")
require sim_nodeport_cluster "$here/peer_echo.py"
B=$SIM_BPFPROXY
in_node1() { nsenter --net="/run/netns/$SIM_TAG-node1" "$@"; }
rules="$SIM_TMP/kube-proxy"
require python3 "$here/kube_proxy_rules.py" "$manifests" 10.200.0.0/16 10.32.0.0/24 "$rules"

echo "--- kube-proxy's rules in node1's namespace"
require in_node1 iptables-nft-restore --noflush "$rules/iptables.rules"
# The legacy back end needs the ip_tables module; where the kernel lacks it, nft alone.
legacy=0
in_node1 iptables-legacy-restore --noflush "$rules/iptables.rules" 2>/dev/null && legacy=1
echo "      iptables-legacy: $([ $legacy = 1 ] && echo written || echo 'not available, skipped')"
require in_node1 nft -f "$rules/nft.rules"
# IPVS mode's device, where the kernel has dummy devices.
ipvs=0
in_node1 ip link add kube-ipvs0 type dummy 2>/dev/null && in_node1 ip addr add 10.32.0.140/32 dev kube-ipvs0 && ipvs=1
echo "      kube-ipvs0: $([ $ipvs = 1 ] && echo created || echo 'no dummy devices in this kernel, skipped')"
kube_chains() { in_node1 "$1" 2>/dev/null | grep -c '^:KUBE-\(SERVICES\|SVC-\|SEP-\|NODEPORTS\|POSTROUTING\|FORWARD\)'; }
before=$(kube_chains iptables-nft-save)
check "kube-proxy's chains are there ($before in iptables-nft)" test "$before" -ge 10

agents=()
for node in node1 node2; do
  sim_agent_tc "$node" "$manifests" --service-cidr 10.32.0.0/24,fd00:32::/108 --devices ext0,eth0
  agents+=("$SIM_LAST_PID")
done
pin1=$(sim_pin_dir node1)
require sim_wait_for "node1's TC programs" 20 grep -q "attached bpx_tc_from_dev on ext0" "$SIM_TMP/agent-node1.log"
require sim_wait_for "node2's TC programs" 20 grep -q "attached bpx_tc_from_dev on ext0" "$SIM_TMP/agent-node2.log"
require sim_wait_for "the NodePort to be programmed" 20 \
  bash -c "'$B' service list --pin-dir '$pin1' -o json | grep -q '0.0.0.0:30080'"

leftover() { in_node1 "$B" doctor --pin-dir "$pin1" -o json |
  python3 -c 'import json,sys; f=[x for x in json.load(sys.stdin) if x["check"]=="leftover kube-proxy rules"][0]; print(f["status"], f["detail"])'; }
doctor=$(leftover)
echo "      doctor: ${doctor:0:160}..."
check "doctor warns: kube-proxy's rules still act on packets" grep -q "^warn .*nat/KUBE-SERVICES" <<<"$doctor"

echo "--- takeover --dry-run"
dry=$(in_node1 "$B" takeover --dry-run)
check "dry run exits 0" test $? = 0
check "dry run lists the chains it would remove" grep -q "would remove: iptables-nft nat: delete chain KUBE-SERVICES" <<<"$dry"
check "dry run lists the nftables table" grep -q 'would remove: nftables table ip kube-proxy' <<<"$dry"
if [ $ipvs = 1 ]; then
  check "dry run lists kube-ipvs0" grep -q 'would remove: IPVS dummy device kube-ipvs0' <<<"$dry"
fi
check "dry run changed nothing" test "$(kube_chains iptables-nft-save)" = "$before"

echo "--- takeover"
out=$(in_node1 "$B" takeover)
rc=$?
echo "$out" | tail -3 | sed 's/^/      /'
check "takeover exits 0" test $rc = 0
check "it prints what it removed" grep -q "^removed: iptables-nft nat: delete rule 1 of PREROUTING" <<<"$out"
check "no kube-proxy chain is left in iptables-nft" test "$(kube_chains iptables-nft-save)" = 0
check "no KUBE- jump is left in the built-in chains" test "$(in_node1 iptables-nft-save 2>/dev/null | grep -c -- '-j KUBE-')" = 0
if [ $legacy = 1 ]; then
  check "no kube-proxy chain is left in iptables-legacy" test "$(kube_chains iptables-legacy-save)" = 0
fi
check "the nftables table ip kube-proxy is gone" bash -c "! nsenter --net=/run/netns/$SIM_TAG-node1 nft list tables | grep -q kube-proxy"
if [ $ipvs = 1 ]; then
  check "kube-ipvs0 is gone" bash -c "! nsenter --net=/run/netns/$SIM_TAG-node1 ip link show kube-ipvs0 2>/dev/null"
fi
check "doctor: no kube-proxy rule sees packets" grep -q "^ok no kube-proxy rule sees packets" <<<"$(leftover)"
again=$(in_node1 "$B" takeover)
check "a second takeover finds nothing" grep -q "nothing of kube-proxy's found" <<<"$again"

echo "--- Services through bpfproxy alone"
check "busybox -> ClusterIP 10.32.0.140 answers" sim_exec busybox curl -s --max-time 3 -o /dev/null http://10.32.0.140/
check "client -> node1:30080 (NodePort) answers" \
  bash -c "nsenter --net=/run/netns/$SIM_TAG-client curl -s --max-time 3 http://192.168.50.1:30080/ | grep -q 'pod nginx-'"

echo "--- bpfproxy cleanup, then kube-proxy again"
for pid in "${agents[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null; done
require "$B" cleanup --pin-dir "$pin1" >/dev/null
require "$B" cleanup --pin-dir "$(sim_pin_dir node2)" >/dev/null
check "kube-proxy's iptables rules can be written again" in_node1 iptables-nft-restore --noflush "$rules/iptables.rules"
# No socket hook now: the ClusterIP reaches nginx only through kube-proxy's DNAT in node1.
check "busybox -> ClusterIP 10.32.0.140 answers through kube-proxy's rules" \
  sim_exec busybox curl -s --max-time 3 -o /dev/null http://10.32.0.140/
hits=$(in_node1 iptables-nft-save -c -t nat 2>/dev/null | grep -- '-A KUBE-SERVICES' | grep '10.32.0.140/32' |
  sed -n 's/^\[\([0-9]*\):.*/\1/p' | head -1)
check "kube-proxy's KUBE-SERVICES rule for it counted the connection ($hits)" test "${hits:-0}" -ge 1
check "and its nftables table can be written again" in_node1 nft -f "$rules/nft.rules"

e2e_finish
