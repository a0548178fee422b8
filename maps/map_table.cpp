#include "maps/map_table.h"

#include <linux/bpf.h>

#include "maps/map_names.h"
#include "maps/map_types.h"

namespace bpfproxy::maps {

namespace {

// The key and value sizes come from the map's type (maps/map_types.h).
template <typename Map>
MapSpec sized(const char* name, unsigned type, uint32_t MapSizes::*sizedBy, uint32_t perUnit,
              const char* flag) {
  return {name, type, sizeof(typename Map::Key), sizeof(typename Map::Value), sizedBy, perUnit, 0, flag};
}

template <typename Map>
MapSpec fixed(const char* name, unsigned type, uint32_t entries) {
  return {name, type, sizeof(typename Map::Key), sizeof(typename Map::Value), nullptr, 0, entries, nullptr};
}

}  // namespace

const std::vector<MapSpec>& mapTable() {
  static const std::vector<MapSpec> table = {
      fixed<LayoutMap>(kLayoutMap, BPF_MAP_TYPE_ARRAY, 1),
      sized<ServiceMap>(kServiceMap, BPF_MAP_TYPE_HASH, &MapSizes::servicePorts, 1, "--max-services"),
      sized<ServiceMetaMap>(kServiceMetaMap, BPF_MAP_TYPE_HASH, &MapSizes::servicePorts, 1, "--max-services"),
      sized<BackendMap>(kBackendMap, BPF_MAP_TYPE_HASH, &MapSizes::backends, 1, "--max-backends"),
      sized<SlotMap>(kSlotMap, BPF_MAP_TYPE_HASH, &MapSizes::backends, BPX_SLOTS_PER_BACKEND, "--max-backends"),
      fixed<SocketStateMap>(kSockMap, BPF_MAP_TYPE_SK_STORAGE, 0),  // freed with the socket
      sized<ClientAffinityMap>(kClientAffinityMap, BPF_MAP_TYPE_LRU_HASH, &MapSizes::clientAffinity, 1,
                               "--max-affinity"),
      fixed<StatsMap>(kStatsMap, BPF_MAP_TYPE_PERCPU_ARRAY, BPX_STAT_COUNT),
      sized<ConntrackMap>(kConntrackMap, BPF_MAP_TYPE_LRU_HASH, &MapSizes::conntrack, 2, "--max-conntrack"),
      fixed<NodeAddrMap>(kNodeAddrMap, BPF_MAP_TYPE_HASH, BPX_DEFAULT_NODE_ADDRS),
      fixed<LpmMap>(kLpmMap, BPF_MAP_TYPE_LPM_TRIE, BPX_DEFAULT_LPM),
      fixed<TcConfigMap>(kTcConfigMap, BPF_MAP_TYPE_ARRAY, 1),
      fixed<TcPodMap>(kTcPodMap, BPF_MAP_TYPE_HASH, BPX_DEFAULT_TC_PODS),
      fixed<OptOutMap>(kSockOptOutMap, BPF_MAP_TYPE_HASH, BPX_DEFAULT_TC_PODS),
      fixed<GenerationMap>(kGenerationMap, BPF_MAP_TYPE_ARRAY, 1),
      fixed<NetnsAddrMap>(kNetnsAddrMap, BPF_MAP_TYPE_HASH, BPX_DEFAULT_TC_PODS),
      fixed<ServiceStatsMap>(kServiceStatsMap, BPF_MAP_TYPE_PERCPU_HASH, BPX_DEFAULT_SVC_STATS),
  };
  return table;
}

const MapSpec* findMapSpec(std::string_view name) {
  for (const auto& spec : mapTable())
    if (name == spec.name) return &spec;
  return nullptr;
}

uint64_t maxEntries(const MapSpec& spec, const MapSizes& sizes) {
  if (!spec.sizedBy) return spec.fixedEntries;
  return uint64_t{sizes.*spec.sizedBy} * spec.perUnit;
}

}  // namespace bpfproxy::maps
