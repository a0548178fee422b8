#pragma once
// Each pinned map's key and value types, named once: the map table (maps/map_table.cpp)
// takes its sizes from them and code reads and writes the maps through them, so the two
// cannot disagree.
#include <cstdint>

#include "bpf/maps_abi.h"
#include "maps/typed_map.h"

namespace bpfproxy::maps {

// The socket path's maps (maps/datapath_maps.h).
using LayoutMap = TypedMap<uint32_t, bpx_layout>;
using ServiceMap = TypedMap<bpx_svc_key, bpx_svc_value>;
using ServiceMetaMap = TypedMap<uint32_t, bpx_svc_meta>;
using BackendMap = TypedMap<uint32_t, bpx_backend>;
using SlotMap = TypedMap<bpx_slot_key, bpx_slot_value>;
using SocketStateMap = TypedMap<int32_t, bpx_sock_state>;  // socket storage: keyed by a socket's fd
using ClientAffinityMap = TypedMap<bpx_client_affinity_key, bpx_client_affinity_value>;
using StatsMap = TypedMap<uint32_t, bpx_stat>;  // per CPU
using GenerationMap = TypedMap<uint32_t, bpx_generation>;
using ServiceStatsMap = TypedMap<bpx_svc_stats_key, bpx_svc_stats>;  // per CPU

// The TC path's maps and the socket-hook opt-out (maps/tc_maps.h).
using ConntrackMap = TypedMap<bpx_ct_key, bpx_ct_value>;
using NodeAddrMap = TypedMap<bpx_svc_key, bpx_node_addr>;
using LpmMap = TypedMap<bpx_lpm_key, bpx_lpm_value>;
using TcConfigMap = TypedMap<uint32_t, bpx_tc_config>;
using TcPodMap = TypedMap<bpx_svc_key, bpx_tc_pod>;
using OptOutMap = TypedMap<uint64_t, bpx_optout>;
using NetnsAddrMap = TypedMap<uint64_t, bpx_netns_addr>;

}  // namespace bpfproxy::maps
