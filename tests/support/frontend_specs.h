#pragma once
// Desired-state rows for BPF tests, written through the production reconciler.
#include <algorithm>
#include <vector>

#include "controller/model/desired_state.h"

namespace bpfproxy::testing {

inline IpAddress ip(const char* text) { return *IpAddress::parse(text); }

inline controller::BackendSpec backendSpec(const char* address, uint16_t port, uint8_t proto,
                                           bool local = false) {
  controller::BackendSpec spec;
  spec.address = ip(address);
  spec.port = port;
  spec.proto = proto;
  spec.local = local;
  return spec;
}

// A frontend of Service default/svc with `flags` (BPX_SVC_F_*) and these backends.
inline controller::FrontendSpec frontendSpec(const char* vip, uint16_t port, uint8_t proto,
                                             uint16_t flags,
                                             std::vector<controller::BackendSpec> backends) {
  controller::FrontendSpec spec;
  spec.key = {ip(vip), port, proto};
  spec.flags = flags;
  spec.namespace_ = "default";
  spec.name = "svc";
  std::sort(backends.begin(), backends.end());
  spec.backends = std::move(backends);
  return spec;
}

// The address-only entry that makes undefined ports of a ClusterIP refused.
inline controller::FrontendSpec wildcardSpec(const char* vip) {
  controller::FrontendSpec spec;
  spec.key = {ip(vip), 0, BPX_PROTO_ANY};
  spec.flags = BPX_SVC_F_WILDCARD;
  return spec;
}

}  // namespace bpfproxy::testing
