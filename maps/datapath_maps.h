#pragma once
// The pinned maps of one bpfproxy datapath, opened by path: the agent writes through them,
// the CLI and the tests read them.
#include <string>
#include <vector>

#include "base/result.h"
#include "maps/map_types.h"

namespace bpfproxy::maps {

struct DatapathMaps {
  LayoutMap layout;
  ServiceMap services;
  SlotMap slots;
  BackendMap backends;
  SocketStateMap sockets;
  ClientAffinityMap clientAffinity;
  ServiceMetaMap serviceMeta;
  StatsMap stats;
  GenerationMap generation;
  ServiceStatsMap serviceStats;  // per CPU; invalid (not pinned) under an older agent's datapath

  // Opens every map under <pinDir>/maps, each checked against the table and its types; the
  // error names the map that failed.
  Status open(const std::string& pinDir);

  // Sums a per-CPU counter (BPX_STAT_*) over all CPUs.
  uint64_t readCounter(uint32_t index) const;
  std::vector<uint64_t> readCounters() const;  // all BPX_STAT_COUNT counters, summed
};

}  // namespace bpfproxy::maps
