#include "controller/node/node_state.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "controller/sync/reconciler.h"

namespace bpfproxy::controller {

namespace {

// Loopback NodePorts are what CVE-2020-8558 was about (kube-proxy's nftables mode does
// not serve them either); link-local addresses are per link, not the node's.
bool skipped(const IpAddress& address) {
  const auto& b = address.bytes();
  if (address.isV4()) return b[12] == 127 || (b[12] == 169 && b[13] == 254);
  static const std::array<uint8_t, 16> loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return b == loopback || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

}  // namespace

std::vector<NodeAddress> localAddresses(const std::vector<std::string>& devices,
                                        const std::vector<Cidr>& nodePortAddresses) {
  std::vector<std::pair<size_t, NodeAddress>> ranked;  // rank: the device's place, else last
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {};
  for (ifaddrs* entry = list; entry; entry = entry->ifa_next) {
    if (!entry->ifa_addr) continue;
    std::array<uint8_t, 16> bytes{};
    if (entry->ifa_addr->sa_family == AF_INET) {
      bytes[10] = bytes[11] = 0xff;
      std::memcpy(&bytes[12], &reinterpret_cast<sockaddr_in*>(entry->ifa_addr)->sin_addr, 4);
    } else if (entry->ifa_addr->sa_family == AF_INET6) {
      std::memcpy(bytes.data(), &reinterpret_cast<sockaddr_in6*>(entry->ifa_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    IpAddress address(bytes);
    if (skipped(address)) continue;
    bool nodePort = nodePortAddresses.empty();
    for (const auto& cidr : nodePortAddresses) nodePort = nodePort || cidr.contains(address);
    size_t rank = std::find(devices.begin(), devices.end(), entry->ifa_name) - devices.begin();
    ranked.push_back({rank, {address, static_cast<int>(if_nametoindex(entry->ifa_name)), nodePort}});
  }
  freeifaddrs(list);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<NodeAddress> result;
  for (auto& rankedNode : ranked) {
    const NodeAddress& node = rankedNode.second;  // clang 14 cannot capture a structured binding
    if (std::none_of(result.begin(), result.end(), [&](const NodeAddress& seen) { return seen.address == node.address; }))
      result.push_back(node);
  }
  return result;
}

NodeState::NodeState(const NodeStateOptions& options, const std::string& pinDir) : options_(options) {
  if (auto opened = maps_.open(pinDir); !opened) throw std::runtime_error(opened.error().message);
  state_ = std::make_unique<TcMapState>(maps_);
  options_.settings.nodeNetnsCookie = netnsCookie();
  namespaces_ = std::make_unique<NetnsAddresses>(maps_.netnsAddrs, options_.settings.nodeNetnsCookie);
  if (auto refreshed = refresh(); !refreshed) throw std::runtime_error(refreshed.error().message);
}

Status NodeState::refresh(bool* changed) {
  auto now = localAddresses(options_.devices, options_.nodePortAddresses);
  std::lock_guard lock(mutex_);
  if (auto refreshed = namespaces_->refresh(); !refreshed) spdlog::warn("{}", refreshed.error().message);
  bool same = written_ && now.size() == addresses_.size() &&
              std::equal(now.begin(), now.end(), addresses_.begin(), [](const NodeAddress& a, const NodeAddress& b) {
                return a.address == b.address && a.ifindex == b.ifindex && a.nodePort == b.nodePort;
              });
  if (changed) *changed = !same;
  if (same) return {};
  if (auto written = state_->setNode(options_.settings, now, options_.serviceCidrs); !written)
    return written.error();
  for (const auto& node : now)
    if (std::none_of(addresses_.begin(), addresses_.end(), [&](const NodeAddress& old) { return old.address == node.address; }))
      spdlog::info("node address {}{}", node.address.toString(), node.nodePort ? " (NodePorts)" : "");
  for (const auto& old : addresses_)
    if (std::none_of(now.begin(), now.end(), [&](const NodeAddress& node) { return node.address == old.address; }))
      spdlog::info("node address {} is gone", old.address.toString());
  addresses_ = std::move(now);
  written_ = true;
  return {};
}

std::vector<NodeAddress> NodeState::addresses() const {
  std::lock_guard lock(mutex_);
  return addresses_;
}

void NodeState::serviceSynced(const ServiceKey& key, const std::vector<FrontendSpec>& frontends,
                              const std::map<FrontendKey, uint32_t>& serviceIds) {
  std::lock_guard lock(mutex_);
  std::set<uint32_t> withRanges;
  for (const auto& frontend : frontends) {
    if (!(frontend.flags & BPX_SVC_F_SOURCE_RANGES)) continue;
    if (auto id = serviceIds.find(frontend.key); id != serviceIds.end()) {
      const uint32_t svcId = id->second;
      withRanges.insert(svcId);
      if (auto written = state_->setSourceRanges(svcId, frontend.sourceRanges); !written)
        spdlog::error("{}: {}", key.toString(), written.error().message);
    }
  }
  // Ids that lost their ranges (or their frontend): a reused id must start clean.
  for (uint32_t svcId : rangesByService_[key])
    if (!withRanges.count(svcId))
      if (auto cleared = state_->setSourceRanges(svcId, {}); !cleared)
        spdlog::error("{}: {}", key.toString(), cleared.error().message);
  if (withRanges.empty()) rangesByService_.erase(key);
  else rangesByService_[key] = withRanges;
}

Status NodeState::setBypass(const std::vector<BypassWorkload>& workloads) {
  std::lock_guard lock(mutex_);
  return state_->setBypass(workloads);
}

}  // namespace bpfproxy::controller
