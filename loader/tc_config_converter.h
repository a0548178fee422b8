#pragma once
// bpx_tccfg_v1 of 48 bytes -> 56 bytes, in place: b513721 added node_netns_cookie and
// 4ba262c turned the externalIPs flag around, both without a version bump (before the rule
// in bpf/maps_abi.h), so the old layout is told apart by its value size alone.
#include "loader/map_converters.h"

namespace bpfproxy::loader {

MapConverter tcConfigWithoutNetnsCookie();

}  // namespace bpfproxy::loader
