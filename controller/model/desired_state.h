#pragma once
// What the datapath should hold for one Service: its frontends, each with the backends a
// connecting socket may be given. The model produces it; the reconciler programs it.
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bpf/maps_abi.h"
#include "maps/ip_address.h"

namespace bpfproxy::controller {

struct FrontendKey {
  IpAddress address;
  uint16_t port = 0;   // host order; 0 in a wildcard (address-only) entry
  uint8_t proto = 0;   // BPX_PROTO_*; BPX_PROTO_ANY in a wildcard entry
  uint8_t scope = BPX_SVC_SCOPE_ALL;  // BPX_SVC_SCOPE_INTERNAL: a Local frontend's in-cluster view
  auto operator<=>(const FrontendKey&) const = default;
};

struct BackendSpec {
  IpAddress address;
  uint16_t port = 0;  // host order
  uint8_t proto = BPX_PROTO_TCP;
  uint8_t state = BPX_BACKEND_ACTIVE;  // BPX_BACKEND_*
  bool local = false;                  // on this node
  std::string nodeName;
  std::string zone;
  uint32_t weight = 1;  // bpfproxy.io/lb-weights; 0: no new flows
  auto operator<=>(const BackendSpec&) const = default;
};

struct FrontendSpec {
  FrontendKey key;
  uint8_t type = BPX_SVC_TYPE_CLUSTER_IP;  // BPX_SVC_TYPE_*
  uint16_t flags = 0;                      // BPX_SVC_F_*
  uint32_t affinityTimeoutSeconds = 0;
  uint8_t algorithm = BPX_LB_RANDOM;  // BPX_LB_*: how a new flow picks (lb_choice.h)
  uint32_t maglevTableSize = 0;       // --maglev-table-size; 0: automatic (lb_table.h)
  uint32_t slowStartSeconds = 0;      // bpfproxy.io/lb-slow-start; 0: none (slow_start.h)
  // bpfproxy.io/terminating-fallback: when every backend is terminating, new flows are
  // refused (BPX_SVC_F_DRAINED) after this many seconds (0: at once); nullopt: never (serve).
  std::optional<uint32_t> drainAfterSeconds;
  std::string namespace_;
  std::string name;
  std::string portName;
  // The backends sockets are given, in a stable order (sorted), after every filter.
  std::vector<BackendSpec> backends;
  // loadBalancerSourceRanges, on load-balancer frontends (flag BPX_SVC_F_SOURCE_RANGES).
  std::vector<Cidr> sourceRanges;
  bool operator==(const FrontendSpec&) const = default;
};

}  // namespace bpfproxy::controller
