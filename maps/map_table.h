#pragma once
// Every map bpfproxy pins, in one table: its name, kind, key and value size, and how many
// entries it gets. The loader sizes both BPF objects from it, migration and `doctor` check
// pins against it, `capacity` and `status` print it. A new map is one row here.
#include <cstdint>
#include <string_view>
#include <vector>

#include "bpf/maps_abi.h"

namespace bpfproxy::maps {

// What the agent's flags size (--max-services, --max-backends, ...).
struct MapSizes {
  uint32_t servicePorts = BPX_DEFAULT_SERVICE_PORTS;
  uint32_t backends = BPX_DEFAULT_BACKENDS;
  uint32_t clientAffinity = BPX_DEFAULT_CLIENT_AFFINITY;  // sessionAffinity ClientIP (pod, Service) entries
  uint32_t conntrack = BPX_DEFAULT_CONNTRACK;  // flows of the TC datapath (two entries each)
};

struct MapSpec {
  const char* name;    // bpx_svc_v1
  unsigned type;       // BPF_MAP_TYPE_*
  uint32_t keySize;
  uint32_t valueSize;
  // The setting that sizes the map, times `perUnit`; null: fixed by bpf/lib/maps.bpf.h.
  uint32_t MapSizes::*sizedBy;
  uint32_t perUnit;
  uint32_t fixedEntries;  // when sizedBy is null
  const char* flag;       // the agent flag behind sizedBy ("--max-services"), for advice
};

const std::vector<MapSpec>& mapTable();
const MapSpec* findMapSpec(std::string_view name);  // null for a name not in the table
uint64_t maxEntries(const MapSpec& spec, const MapSizes& sizes);

}  // namespace bpfproxy::maps
