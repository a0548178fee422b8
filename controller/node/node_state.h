#pragma once
// This node as both datapaths see it, kept in the maps whether or not the per-packet
// programs run: the agent's flags, the service CIDRs (the socket hooks refuse addresses in
// them that no Service has), this node's local addresses (NodePorts answer on every one by
// default, as kube-proxy with an empty nodePortAddresses), loadBalancerSourceRanges per
// frontend, and the workloads that bypass the socket hooks. refresh() re-reads the
// addresses; the agent calls it every second, so the set follows address changes.
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "controller/model/desired_state.h"
#include "controller/model/kube_objects.h"
#include "controller/node/netns_addresses.h"
#include "controller/node/tc_state.h"
#include "maps/tc_maps.h"

namespace bpfproxy::controller {

class Reconciler;

struct NodeStateOptions {
  std::vector<std::string> devices;     // --devices: their addresses come first (SNAT source)
  std::vector<Cidr> nodePortAddresses;  // empty: every local address
  TcSettings settings;
  std::vector<Cidr> serviceCidrs;
};

// This node's addresses as NodePort frontends see them: every address of every interface
// but loopback and link-local ones, the --devices' first (in their order), flagged for
// NodePorts when nodePortAddresses is empty or contains them.
std::vector<NodeAddress> localAddresses(const std::vector<std::string>& devices,
                                        const std::vector<Cidr>& nodePortAddresses);

class NodeState {
public:
  // Throws std::runtime_error naming the map that could not be opened or written.
  NodeState(const NodeStateOptions& options, const std::string& pinDir);

  // Re-reads this node's addresses and writes them when they changed, and the addresses
  // of its network namespaces (NetnsAddresses); the error is that of writing the node's.
  // `changed` tells whether the node's addresses were written.
  Status refresh(bool* changed = nullptr);
  std::vector<NodeAddress> addresses() const;

  // After the reconciler applied a Service's frontends: their source ranges, by the svc_ids
  // the reconciler gave them (ReconcileResult::serviceIds).
  void serviceSynced(const ServiceKey& key, const std::vector<FrontendSpec>& frontends,
                     const std::map<FrontendKey, uint32_t>& serviceIds);
  Status setBypass(const std::vector<BypassWorkload>& workloads);

private:
  NodeStateOptions options_;
  maps::TcMaps maps_;
  mutable std::mutex mutex_;  // the agent loop, the refresh and the TC rescan write
  std::unique_ptr<TcMapState> state_;
  std::unique_ptr<NetnsAddresses> namespaces_;
  std::vector<NodeAddress> addresses_;
  bool written_ = false;
  std::map<ServiceKey, std::set<uint32_t>> rangesByService_;  // svc_ids given source ranges
};

}  // namespace bpfproxy::controller
