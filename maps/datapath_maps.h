#pragma once
// The pinned maps of one bpfproxy datapath, opened by path: the agent writes through them,
// the CLI and the tests read them.
#include <string>
#include <vector>

#include "base/result.h"
#include "maps/map_fd.h"

namespace bpfproxy::maps {

struct DatapathMaps {
  MapFd layout, services, slots, backends, sockets, clientAffinity, serviceMeta, stats, generation;

  // Opens every map under <pinDir>/maps; the error names the map that failed.
  Status open(const std::string& pinDir);

  // Sums a per-CPU counter (BPX_STAT_*) over all CPUs.
  uint64_t readCounter(uint32_t index) const;
  std::vector<uint64_t> readCounters() const;  // all BPX_STAT_COUNT counters, summed
};

}  // namespace bpfproxy::maps
