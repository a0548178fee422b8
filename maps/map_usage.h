#pragma once
// How full each pinned map is, and what it costs in kernel memory: for metrics, `status`
// and `capacity`.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "maps/map_fd.h"

namespace bpfproxy::maps {

// Counts keys by walking them (no values are copied). For maps the datapath fills itself
// (LRU caches), where user space keeps no count.
size_t countEntries(const MapFd& map);

// The kernel memory a map of this shape takes when full, estimated the way the kernel
// allocates (htab element header + key + value rounded to 8; per-CPU values per CPU).
uint64_t estimateMapBytes(unsigned type, unsigned keySize, unsigned valueSize, uint64_t maxEntries,
                          unsigned possibleCpus);

std::string mapTypeName(unsigned type);  // "hash", "lru_hash", "percpu_array", ...

}  // namespace bpfproxy::maps
