#include "maps/datapath_maps.h"

#include <bpf/libbpf.h>
#include <unistd.h>

#include "bpf/maps_abi.h"
#include "maps/map_names.h"

namespace bpfproxy::maps {

Status DatapathMaps::open(const std::string& pinDir) {
  if (auto opened = openAll(pinDir, layout, kLayoutMap, services, kServiceMap, slots, kSlotMap, backends,
                            kBackendMap, sockets, kSockMap, clientAffinity, kClientAffinityMap, serviceMeta,
                            kServiceMetaMap, stats, kStatsMap, generation, kGenerationMap);
      !opened)
    return opened;
  // Pinned by agents since bpfproxy.io/metrics counts traffic: a datapath an older agent
  // pinned has none until the new agent loads, and reads as no traffic.
  if (access(mapPinPath(pinDir, kServiceStatsMap).c_str(), F_OK) != 0) return {};
  return openInto(serviceStats, pinDir, kServiceStatsMap);
}

std::vector<uint64_t> DatapathMaps::readCounters() const {
  std::vector<uint64_t> totals(BPX_STAT_COUNT, 0);
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return totals;
  std::vector<bpx_stat> perCpu(cpus);
  for (uint32_t index = 0; index < BPX_STAT_COUNT; ++index) {
    if (stats.lookupPerCpu(index, perCpu) != 0) continue;
    for (const auto& value : perCpu) totals[index] += value.count;
  }
  return totals;
}

uint64_t DatapathMaps::readCounter(uint32_t index) const {
  auto totals = readCounters();
  return index < totals.size() ? totals[index] : 0;
}

}  // namespace bpfproxy::maps
