#pragma once
// What kube-proxy leaves in the kernel, read from iptables-save and nft output: which
// chains are kube-proxy's, which of them still change packets (reachable from a built-in
// chain), and the iptables-restore input that removes them. Pure text in, text out: the
// commands are run by `bpfproxy takeover` and `bpfproxy doctor`.
#include <set>
#include <string>
#include <vector>

namespace bpfproxy::cli {

// A chain kube-proxy creates (KUBE-SERVICES, KUBE-SVC-*, KUBE-SEP-*, KUBE-MARK-MASQ, ...).
// The kubelet's own (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-MARK-DROP, KUBE-IPTABLES-HINT)
// are not.
bool isKubeProxyChain(const std::string& chain);

struct IptablesRemoval {
  std::vector<std::string> actions;  // "nat: delete rule 1 of PREROUTING (-j KUBE-SERVICES)"
  std::string restoreInput;          // for `iptables-restore --noflush`; empty: nothing to do
};

// Removes every kube-proxy chain of an iptables-save dump, and every rule elsewhere that
// jumps to one. KUBE-MARK-MASQ stays when a chain that is not kube-proxy's still uses it.
IptablesRemoval planIptablesRemoval(const std::string& iptablesSave);

// "TABLE/CHAIN" of every kube-proxy chain in the dump.
std::vector<std::string> kubeProxyChains(const std::string& iptablesSave);

// "TABLE/CHAIN" of the kube-proxy chains a packet can reach from a built-in chain (a chain
// nothing jumps to changes no packet).
std::vector<std::string> activeKubeProxyChains(const std::string& iptablesSave);

// "ip kube-proxy", "ip6 kube-proxy" from `nft list tables`.
std::vector<std::string> kubeProxyNftTables(const std::string& nftListTables);

// True when `nft list table FAMILY NAME` output has a base chain (a hook): only then does
// the table see packets.
bool nftTableHooksPackets(const std::string& nftListTable);

// IPVS virtual servers in /proc/net/ip_vs (its header lines skipped).
size_t ipvsVirtualServers(const std::string& procNetIpVs);

}  // namespace bpfproxy::cli
