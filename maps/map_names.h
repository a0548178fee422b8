#pragma once
// Map names and pin paths, derived from the one definition in bpf/maps_abi.h.
#include <string>

#include "bpf/maps_abi.h"

namespace bpfproxy::maps {

inline constexpr const char* kLayoutMap = BPX_STRINGIFY(BPX_MAP_LAYOUT);
inline constexpr const char* kServiceMap = BPX_STRINGIFY(BPX_MAP_SVC);
inline constexpr const char* kSlotMap = BPX_STRINGIFY(BPX_MAP_SLOT);
inline constexpr const char* kBackendMap = BPX_STRINGIFY(BPX_MAP_BACKEND);
inline constexpr const char* kSockMap = BPX_STRINGIFY(BPX_MAP_SOCK);
inline constexpr const char* kClientAffinityMap = BPX_STRINGIFY(BPX_MAP_CLIENT_AFFINITY);
inline constexpr const char* kServiceMetaMap = BPX_STRINGIFY(BPX_MAP_SVC_META);
inline constexpr const char* kStatsMap = BPX_STRINGIFY(BPX_MAP_STATS);
inline constexpr const char* kConntrackMap = BPX_STRINGIFY(BPX_MAP_CT);
inline constexpr const char* kNodeAddrMap = BPX_STRINGIFY(BPX_MAP_NODE_ADDR);
inline constexpr const char* kLpmMap = BPX_STRINGIFY(BPX_MAP_LPM);
inline constexpr const char* kTcConfigMap = BPX_STRINGIFY(BPX_MAP_TC_CONFIG);
inline constexpr const char* kTcPodMap = BPX_STRINGIFY(BPX_MAP_TC_POD);
inline constexpr const char* kSockOptOutMap = BPX_STRINGIFY(BPX_MAP_SOCK_OPTOUT);
inline constexpr const char* kNetnsAddrMap = BPX_STRINGIFY(BPX_MAP_NETNS_ADDR);
inline constexpr const char* kGenerationMap = BPX_STRINGIFY(BPX_MAP_GENERATION);
inline constexpr const char* kServiceStatsMap = BPX_STRINGIFY(BPX_MAP_SVC_STATS);

// Maps an older bpfproxy pinned and this one no longer uses: removed once the programs
// that used them are replaced.
inline constexpr const char* kRetiredMaps[] = {"bpx_revnat_v1", "bpx_udpaff_v1"};

inline constexpr const char* kDefaultPinDir = "/sys/fs/bpf/bpfproxy";

// <pin-dir>/maps/<name> and <pin-dir>/links/<program>
inline std::string mapsDir(const std::string& pinDir) { return pinDir + "/maps"; }
inline std::string linksDir(const std::string& pinDir) { return pinDir + "/links"; }
inline std::string mapPinPath(const std::string& pinDir, const std::string& name) {
  return mapsDir(pinDir) + "/" + name;
}

}  // namespace bpfproxy::maps
