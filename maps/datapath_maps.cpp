#include "maps/datapath_maps.h"

#include <bpf/libbpf.h>

#include "bpf/maps_abi.h"
#include "maps/map_names.h"
#include "maps/map_open.h"

namespace bpfproxy::maps {

Status DatapathMaps::open(const std::string& pinDir) {
  return openMaps(pinDir, {{&layout, kLayoutMap},
                           {&services, kServiceMap},
                           {&slots, kSlotMap},
                           {&backends, kBackendMap},
                           {&sockets, kSockMap},
                           {&clientAffinity, kClientAffinityMap},
                           {&serviceMeta, kServiceMetaMap},
                           {&stats, kStatsMap},
                           {&generation, kGenerationMap}});
}

std::vector<uint64_t> DatapathMaps::readCounters() const {
  std::vector<uint64_t> totals(BPX_STAT_COUNT, 0);
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return totals;
  // Per-CPU values come rounded up to 8 bytes each; bpx_stat is exactly 8.
  std::vector<bpx_stat> perCpu(cpus);
  for (uint32_t index = 0; index < BPX_STAT_COUNT; ++index) {
    if (bpf_map_lookup_elem(stats.fd(), &index, perCpu.data()) != 0) continue;
    for (const auto& value : perCpu) totals[index] += value.count;
  }
  return totals;
}

uint64_t DatapathMaps::readCounter(uint32_t index) const {
  auto totals = readCounters();
  return index < totals.size() ? totals[index] : 0;
}

}  // namespace bpfproxy::maps
