#pragma once
// Everything the service maps hold, read in one pass: the CLI prints it and the agent
// adopts it at start, so inspection and restarts need no other state.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bpf/maps_abi.h"
#include "maps/ip_address.h"

namespace bpfproxy::maps {

struct SnapshotFrontend {
  bpx_svc_key key{};
  bpx_svc_value value{};
  std::optional<bpx_svc_meta> meta;
  std::vector<uint32_t> backendIds;  // the active bank, in slot order
  std::vector<uint32_t> tableIds;    // the active bank's lookup table (Maglev, weights), in order
};

struct DatapathSnapshot {
  std::vector<SnapshotFrontend> frontends;  // sorted by key bytes
  std::map<uint32_t, bpx_backend> backends;
  std::vector<bpx_slot_key> staleSlots;  // inactive bank or past the count: left by a crash
  uint32_t generationFloor = 0;          // bpx_generation.floor: generations below it may be in use
  std::vector<bpx_svc_stats_key> serviceStats;  // the keys bpx_svcstat holds (bpfproxy.io/metrics)
};

// Decoding helpers shared by the CLI and the reconciler.
IpAddress addressOf(const uint8_t (&addr)[16]);
uint16_t hostPort(__be16 port);
std::string protocolName(uint8_t proto);       // "TCP", "UDP", "SCTP", "ANY"
std::string frontendTypeName(uint8_t type);    // "ClusterIP", "NodePort", ...
std::string backendStateName(uint8_t state);   // "active", "terminating", "quarantined"

}  // namespace bpfproxy::maps
