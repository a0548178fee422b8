#pragma once
// Checks on addresses, ports and counts that come from the API or a file, before they reach a map.
// Whoever can write a Service or an EndpointSlice must not be able to point the datapath at
// the node itself, at every address, or at ports outside what the cluster hands out
// (docs/security.md).
#include <cstdint>
#include <string>

#include "base/result.h"
#include "maps/ip_address.h"

namespace bpfproxy::controller {

// Why the address cannot be a Service's address (clusterIP, externalIP, load-balancer IP) or
// an endpoint: unspecified, loopback, multicast, link-local or broadcast. "" when it can.
std::string specialAddressReason(const IpAddress& address);

// The cluster's NodePort range (kube-apiserver --service-node-port-range).
struct PortRange {
  uint16_t min = 30000;
  uint16_t max = 32767;
  bool contains(uint16_t port) const { return port >= min && port <= max; }
  std::string toString() const { return std::to_string(min) + "-" + std::to_string(max); }
};

// A map size from a flag or the configuration file: the error says why it is refused (zero,
// or more than kMaxMapEntries, which would ask the kernel for gigabytes at load).
inline constexpr uint64_t kMaxMapEntries = 1u << 24;
Status checkMapSize(const std::string& flag, uint64_t entries);

}  // namespace bpfproxy::controller
