#pragma once
// sessionAffinity ClientIP entries (bpx_affinity), decoded in one place for `affinity list`
// and the tests: who the client is (an address, or the network namespace the socket hooks
// stood in with before its address was known) and when the entry lapses.
#include <cstdint>
#include <string>
#include <vector>

#include "bpf/maps_abi.h"
#include "maps/map_types.h"

namespace bpfproxy::maps {

struct AffinityEntry {
  std::string client;  // "10.200.0.2", "fd00::2", or "netns:<cookie>"
  uint32_t svcId = 0;
  uint32_t backendId = 0;
  uint64_t lastUsedNs = 0;  // bpf_ktime_get_ns() (CLOCK_MONOTONIC) of its last use
};

// The client of an affinity key, as printed.
std::string affinityClient(const bpx_client_affinity_key& key);

// Every entry of the client affinity map, in the map's order.
std::vector<AffinityEntry> readClientAffinity(const ClientAffinityMap& affinity);

// Nanoseconds on bpf_ktime_get_ns()'s clock, to compare with lastUsedNs.
int64_t monotonicNowNs();

}  // namespace bpfproxy::maps
