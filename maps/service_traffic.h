#pragma once
// bpx_svcstat read at scrape time: the per-CPU counters of the Services annotated
// bpfproxy.io/metrics, summed over CPUs and over each Service's frontends, labelled by the
// Service (bpx_meta) and the backend (bpx_be). Entries whose frontend or backend is gone
// (a race with the agent's delete) are left out.
#include <cstdint>
#include <string>
#include <vector>

#include "maps/datapath_maps.h"

namespace bpfproxy::maps {

struct ServiceTraffic {
  std::string namespace_;
  std::string name;
  std::string backend;  // "10.200.0.2:8080"
  std::string path;     // "socket" or "tc"
  uint64_t connections = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

// Sorted by (namespace, name, backend, path).
std::vector<ServiceTraffic> readServiceTraffic(const DatapathMaps& maps);

}  // namespace bpfproxy::maps
