#include "maps/tc_maps.h"

#include "maps/map_names.h"

namespace bpfproxy::maps {

Status TcMaps::open(const std::string& pinDir) {
  return openAll(pinDir, conntrack, kConntrackMap, nodeAddrs, kNodeAddrMap, lpm, kLpmMap, config, kTcConfigMap,
                 tcPods, kTcPodMap, optOut, kSockOptOutMap, netnsAddrs, kNetnsAddrMap);
}

bpx_svc_key addressKey(const IpAddress& address) {
  bpx_svc_key key{};
  std::memcpy(key.addr, address.bytes().data(), 16);
  return key;
}

bpx_lpm_key lpmKey(uint32_t svcId, const Cidr& cidr) {
  bpx_lpm_key key{};
  key.prefixlen = 32 + static_cast<uint32_t>(cidr.network().isV4() ? cidr.prefixLength() + 96
                                                                    : cidr.prefixLength());
  key.svc_id = svcId;
  std::memcpy(key.addr, cidr.network().bytes().data(), 16);
  return key;
}

}  // namespace bpfproxy::maps
