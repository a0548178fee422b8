#pragma once
// The maps of the per-packet datapath and the socket-hook opt-out, opened by pin path,
// with whole-content sync: the agent computes what a map should hold and the difference
// is written (deletions first for sets that only grant, additions first otherwise).
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bpf/maps_abi.h"
#include "base/result.h"
#include "maps/ip_address.h"
#include "maps/map_types.h"

namespace bpfproxy::maps {

struct TcMaps {
  ConntrackMap conntrack;
  NodeAddrMap nodeAddrs;
  LpmMap lpm;
  TcConfigMap config;
  TcPodMap tcPods;
  OptOutMap optOut;
  NetnsAddrMap netnsAddrs;
  // Opens every map under <pinDir>/maps, each checked against the table and its types; the
  // error names the map that failed.
  Status open(const std::string& pinDir);
};

// Keys of the address-keyed maps (bpx_nodeaddr, bpx_tcpod): the address, rest zero.
bpx_svc_key addressKey(const IpAddress& address);
// An LPM key for a prefix of one service (or BPX_LPM_SERVICE_CIDR).
bpx_lpm_key lpmKey(uint32_t svcId, const Cidr& cidr);

// Makes `map` hold exactly `wanted` (keys compared bytewise). Returns 0 or the first
// -errno; continues past errors so one bad entry does not block the rest.
template <typename K, typename V>
int syncMap(const TypedMap<K, V>& map, const std::vector<std::pair<K, V>>& wanted) {
  auto sameKey = [](const K& a, const K& b) { return std::memcmp(&a, &b, sizeof(K)) == 0; };
  std::vector<K> stale;
  std::vector<std::pair<K, V>> present;
  map.forEach([&](const K& key, const V& value) {
    present.push_back({key, value});
    return true;
  });
  for (const auto& [key, value] : present) {
    bool keep = false;
    for (const auto& entry : wanted) keep = keep || sameKey(entry.first, key);
    if (!keep) stale.push_back(key);
  }
  int first = 0;
  for (const auto& [key, value] : wanted) {
    bool same = false;
    for (const auto& [k, v] : present)
      same = same || (sameKey(k, key) && std::memcmp(&v, &value, sizeof(V)) == 0);
    if (same) continue;
    if (int rc = map.update(key, value); rc != 0 && first == 0) first = rc;
  }
  for (const auto& key : stale)
    if (int rc = map.erase(key); rc != 0 && first == 0) first = rc;
  return first;
}

}  // namespace bpfproxy::maps
