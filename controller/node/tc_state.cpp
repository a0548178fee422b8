#include "controller/node/tc_state.h"

#include <cstring>
#include <string>

namespace bpfproxy::controller {

namespace {

Error failed(const char* what, int rc) { return systemError(std::string("writing ") + what, -rc); }

}  // namespace

Status TcMapState::writeConfig() {
  bpx_tc_config config{};
  config.flags = BPX_TC_CFG_LOADED |
                 (settings_.allowExternalClusterIp ? BPX_TC_CFG_ALLOW_EXTERNAL_CLUSTER_IP : 0) |
                 (settings_.externalIpsNodeOnly ? BPX_TC_CFG_EXTERNAL_IPS_NODE_ONLY : 0);
  config.nodeport_min = settings_.nodePortMin;
  config.nodeport_max = settings_.nodePortMax;
  config.snat_port_min = settings_.snatPortMin;
  config.snat_port_max = settings_.snatPortMax;
  config.optout_count = optOutCount_;
  config.node_netns_cookie = settings_.nodeNetnsCookie;
  // SNAT source per family: the first address of the first device that has one.
  bool haveV4 = false, haveV6 = false;
  for (const auto& node : addresses_) {
    if (node.address.isV4() && !haveV4) {
      std::memcpy(config.snat_v4, node.address.bytes().data(), 16);
      haveV4 = true;
    } else if (!node.address.isV4() && !haveV6) {
      std::memcpy(config.snat_v6, node.address.bytes().data(), 16);
      haveV6 = true;
    }
  }
  if (int rc = maps_.config.update(uint32_t{0}, config); rc != 0) return failed("bpx_tccfg", rc);
  return {};
}

Status TcMapState::syncLpm() {
  std::vector<std::pair<bpx_lpm_key, bpx_lpm_value>> wanted;
  for (const auto& cidr : serviceCidrs_) wanted.push_back({maps::lpmKey(BPX_LPM_SERVICE_CIDR, cidr), {1}});
  for (const auto& [svcId, ranges] : sourceRanges_)
    for (const auto& cidr : ranges) wanted.push_back({maps::lpmKey(svcId, cidr), {1}});
  if (int rc = maps::syncMap(maps_.lpm, wanted); rc != 0) return failed("bpx_lpm", rc);
  return {};
}

Status TcMapState::setNode(const TcSettings& settings, const std::vector<NodeAddress>& addresses,
                                const std::vector<Cidr>& serviceCidrs) {
  settings_ = settings;
  addresses_ = addresses;
  serviceCidrs_ = serviceCidrs;
  std::vector<std::pair<bpx_svc_key, bpx_node_addr>> wanted;
  bool haveV4 = false, haveV6 = false;
  for (const auto& node : addresses) {
    bpx_node_addr value{};
    value.ifindex = static_cast<uint32_t>(node.ifindex);
    value.flags = node.nodePort ? BPX_NODE_ADDR_F_NODEPORT : 0;
    bool& first = node.address.isV4() ? haveV4 : haveV6;
    if (!first) value.flags |= BPX_NODE_ADDR_F_SNAT;
    first = true;
    wanted.push_back({maps::addressKey(node.address), value});
  }
  if (int rc = maps::syncMap(maps_.nodeAddrs, wanted); rc != 0) return failed("bpx_nodeaddr", rc);
  if (auto written = writeConfig(); !written) return written;
  return syncLpm();
}

Status TcMapState::setSourceRanges(uint32_t svcId, const std::vector<Cidr>& ranges) {
  auto it = sourceRanges_.find(svcId);
  if (ranges.empty() && it == sourceRanges_.end()) return {};
  if (it != sourceRanges_.end() && it->second == ranges) return {};
  if (ranges.empty()) sourceRanges_.erase(svcId);
  else sourceRanges_[svcId] = ranges;
  return syncLpm();
}

Status TcMapState::setBypass(const std::vector<BypassWorkload>& workloads) {
  std::vector<std::pair<bpx_svc_key, bpx_tc_pod>> pods;
  std::vector<std::pair<uint64_t, bpx_optout>> optOut;
  for (const auto& workload : workloads) {
    for (const auto& address : workload.addresses)
      pods.push_back({maps::addressKey(address), bpx_tc_pod{workload.cgroupId}});
    if (workload.cgroupId) optOut.push_back({workload.cgroupId, bpx_optout{}});
  }
  uint32_t count = static_cast<uint32_t>(optOut.size());
  // Adding: the TC path first, then the socket opt-out. Removing: the reverse. A
  // workload briefly on both paths is harmless (the socket hooks translate first, and a
  // translated packet names no frontend); on neither, its ClusterIPs would fail.
  if (count >= optOutCount_) {
    if (int rc = maps::syncMap(maps_.tcPods, pods); rc != 0) return failed("bpx_tcpod", rc);
    if (int rc = maps::syncMap(maps_.optOut, optOut); rc != 0) return failed("bpx_optout", rc);
    optOutCount_ = count;
    return writeConfig();
  }
  if (int rc = maps::syncMap(maps_.optOut, optOut); rc != 0) return failed("bpx_optout", rc);
  optOutCount_ = count;
  if (auto written = writeConfig(); !written) return written;
  if (int rc = maps::syncMap(maps_.tcPods, pods); rc != 0) return failed("bpx_tcpod", rc);
  return {};
}

}  // namespace bpfproxy::controller
