#pragma once
// Opens a pinned map and checks it is the map this build reads: its key and value sizes
// against the table (maps/map_table.h). A pin of another layout, left by another bpfproxy
// version, is refused here with what to do, instead of being read as garbage.
#include <cstdint>
#include <string>

#include "base/result.h"
#include "maps/map_fd.h"
#include "maps/map_table.h"

namespace bpfproxy::maps {

Result<MapFd> openMap(const std::string& pinDir, const std::string& name);

// Opens the pin of a map of the table and checks all the table says of it: its kind, key and
// value sizes. Returns what the kernel says of it (its entries), or why it is not this
// build's map. `doctor` runs it over the whole table.
Result<MapFd::Info> inspectPinnedMap(const std::string& pinDir, const MapSpec& spec);

// Checks that `map`'s keys are keySize bytes and its values valueSize; the error names the
// map. TypedMap (maps/typed_map.h) calls it with its types' sizes when it takes a map.
Status checkMapSizes(const MapFd& map, const std::string& name, uint32_t keySize, uint32_t valueSize);

}  // namespace bpfproxy::maps
