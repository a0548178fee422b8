#pragma once
// The TC path's tracked flows (bpx_ct), decoded in one place for `conntrack list|flush`,
// `explain` and the tests: which side of the flow each address is depends on the entry's
// direction (maps_abi.h), and only this file reads that.
#include <cstdint>
#include <optional>
#include <vector>

#include "bpf/maps_abi.h"
#include "maps/ip_address.h"
#include "maps/map_types.h"

namespace bpfproxy::maps {

struct Endpoint {
  IpAddress address;
  uint16_t port = 0;  // host order
  std::string toString() const { return formatEndpoint(address, port); }
};

struct ConntrackFlow {
  bpx_ct_key key{};  // as stored: what deleting the entry takes
  bpx_ct_value value{};
  bool forward = true;  // the client's packets (else the backend's replies)
  Endpoint client;      // the flow's source, before any SNAT
  Endpoint frontend;    // what the client asked for
  // Forward entries name the backend by id (and the Service by svc_id); reply entries by
  // its address.
  uint32_t backendId = 0;
  uint32_t svcId = 0;
  std::optional<Endpoint> backend;
  std::optional<Endpoint> snat;  // the source the backend sees, when the flow was SNATed
};

// Every entry of the conntrack map, in the map's order.
std::vector<ConntrackFlow> readConntrack(const ConntrackMap& conntrack);

}  // namespace bpfproxy::maps
