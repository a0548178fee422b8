#include "maps/map_table.h"

#include <linux/bpf.h>

#include "maps/map_names.h"

namespace bpfproxy::maps {

namespace {

template <typename K, typename V>
MapSpec sized(const char* name, unsigned type, uint32_t MapSizes::*sizedBy, uint32_t perUnit,
              const char* flag) {
  return {name, type, sizeof(K), sizeof(V), sizedBy, perUnit, 0, flag};
}

template <typename K, typename V>
MapSpec fixed(const char* name, unsigned type, uint32_t entries) {
  return {name, type, sizeof(K), sizeof(V), nullptr, 0, entries, nullptr};
}

}  // namespace

const std::vector<MapSpec>& mapTable() {
  static const std::vector<MapSpec> table = {
      fixed<uint32_t, bpx_layout>(kLayoutMap, BPF_MAP_TYPE_ARRAY, 1),
      sized<bpx_svc_key, bpx_svc_value>(kServiceMap, BPF_MAP_TYPE_HASH, &MapSizes::servicePorts, 1,
                                        "--max-services"),
      sized<uint32_t, bpx_svc_meta>(kServiceMetaMap, BPF_MAP_TYPE_HASH, &MapSizes::servicePorts, 1,
                                    "--max-services"),
      sized<uint32_t, bpx_backend>(kBackendMap, BPF_MAP_TYPE_HASH, &MapSizes::backends, 1,
                                   "--max-backends"),
      sized<bpx_slot_key, bpx_slot_value>(kSlotMap, BPF_MAP_TYPE_HASH, &MapSizes::backends,
                                          BPX_SLOTS_PER_BACKEND, "--max-backends"),
      fixed<int32_t, bpx_sock_state>(kSockMap, BPF_MAP_TYPE_SK_STORAGE, 0),  // freed with the socket
      sized<bpx_client_affinity_key, bpx_client_affinity_value>(
          kClientAffinityMap, BPF_MAP_TYPE_LRU_HASH, &MapSizes::clientAffinity, 1, "--max-affinity"),
      fixed<uint32_t, bpx_stat>(kStatsMap, BPF_MAP_TYPE_PERCPU_ARRAY, BPX_STAT_COUNT),
      sized<bpx_ct_key, bpx_ct_value>(kConntrackMap, BPF_MAP_TYPE_LRU_HASH, &MapSizes::conntrack, 2,
                                      "--max-conntrack"),
      fixed<bpx_svc_key, bpx_node_addr>(kNodeAddrMap, BPF_MAP_TYPE_HASH, BPX_DEFAULT_NODE_ADDRS),
      fixed<bpx_lpm_key, bpx_lpm_value>(kLpmMap, BPF_MAP_TYPE_LPM_TRIE, BPX_DEFAULT_LPM),
      fixed<uint32_t, bpx_tc_config>(kTcConfigMap, BPF_MAP_TYPE_ARRAY, 1),
      fixed<bpx_svc_key, bpx_tc_pod>(kTcPodMap, BPF_MAP_TYPE_HASH, BPX_DEFAULT_TC_PODS),
      fixed<uint64_t, bpx_optout>(kSockOptOutMap, BPF_MAP_TYPE_HASH, BPX_DEFAULT_TC_PODS),
      fixed<uint32_t, bpx_generation>(kGenerationMap, BPF_MAP_TYPE_ARRAY, 1),
      fixed<uint64_t, bpx_netns_addr>(kNetnsAddrMap, BPF_MAP_TYPE_HASH, BPX_DEFAULT_TC_PODS),
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
