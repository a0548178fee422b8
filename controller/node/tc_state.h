#pragma once
// What the per-packet datapath's own maps hold besides the services: the agent's flags,
// this node's addresses, the service CIDRs and loadBalancerSourceRanges (one LPM trie),
// and the workloads that bypass the socket hooks. Kept as desired state and synced whole.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"
#include "maps/ip_address.h"
#include "maps/tc_maps.h"

namespace bpfproxy::controller {

struct TcSettings {
  uint16_t nodePortMin = 30000, nodePortMax = 32767;
  uint16_t snatPortMin = 61000, snatPortMax = 65535;
  bool allowExternalClusterIp = false;
  bool externalIpsNodeOnly = false;  // CVE-2020-8554 guard: serve only this node's externalIPs
  uint64_t nodeNetnsCookie = 0;  // the agent's network namespace (SO_NETNS_COOKIE)
};

struct NodeAddress {
  IpAddress address;
  int ifindex = 0;
  bool nodePort = true;  // NodePorts answer on it (--nodeport-addresses)
};

// A workload that uses the per-packet path: its addresses and its cgroup's id.
struct BypassWorkload {
  std::string name;  // namespace/name, for logs
  std::vector<IpAddress> addresses;
  uint64_t cgroupId = 0;
};

class TcMapState {
public:
  explicit TcMapState(const maps::TcMaps& maps) : maps_(maps) {}

  // Each returns an error naming the map it could not write.
  Status setNode(const TcSettings& settings, const std::vector<NodeAddress>& addresses,
                      const std::vector<Cidr>& serviceCidrs);
  Status setSourceRanges(uint32_t svcId, const std::vector<Cidr>& ranges);
  // Writes bpx_tcpod before bpx_optout when adding and the reverse when removing, so no
  // workload is left with neither path.
  Status setBypass(const std::vector<BypassWorkload>& workloads);

private:
  Status writeConfig();
  Status syncLpm();

  const maps::TcMaps& maps_;
  TcSettings settings_;
  std::vector<NodeAddress> addresses_;
  std::vector<Cidr> serviceCidrs_;
  std::map<uint32_t, std::vector<Cidr>> sourceRanges_;
  uint32_t optOutCount_ = 0;
};

}  // namespace bpfproxy::controller
