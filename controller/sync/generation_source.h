#pragma once
// Generations unique across the whole datapath (bpx_generation in bpf/maps_abi.h). Sticky
// state (ClientIP affinity, unconnected-UDP stickiness, TC conntrack) names a svc_id and the
// generation it was checked against; svc_ids are reused, generations never are, so such an
// entry can only ever match the Service that made it.
#include <algorithm>
#include <cstdint>
#include <optional>

#include "base/result.h"
#include "maps/datapath_writer.h"

namespace bpfproxy::controller {

class GenerationSource {
public:
  // Generations are reserved this many at a time: one map write per block, not per change.
  static constexpr uint32_t kBlock = 4096;

  // After adoption: continue past everything a previous agent may have handed out.
  void resume(uint32_t persistedFloor, uint32_t highestInMaps) {
    next_ = std::max({next_, persistedFloor, highestInMaps + 1});
    floor_ = std::max(floor_, persistedFloor);
  }

  // A fresh generation (never 0); its bank (parity) differs from `current`'s so the slots of
  // the bank in use stay untouched. An error when the reservation cannot be persisted.
  Result<uint32_t> next(std::optional<uint32_t> current, maps::DatapathWriter& writer) {
    uint32_t generation = next_;
    if (current && (generation & 1) == (*current & 1)) ++generation;
    if (generation >= kExhausted)
      return Error{"service generations exhausted (2^32 backend-set changes): run `bpfproxy cleanup` "
                   "and restart the agent"};
    if (generation >= floor_) {
      uint32_t floor = generation + kBlock;
      if (int rc = writer.putGenerationFloor(floor); rc != 0)
        return systemError("persisting the generation floor in bpx_gen", -rc);
      floor_ = floor;
    }
    next_ = generation + 1;
    return generation;
  }

private:
  static constexpr uint32_t kExhausted = UINT32_MAX - kBlock;
  uint32_t next_ = 1;  // 0 is never a generation
  uint32_t floor_ = 0;
};

}  // namespace bpfproxy::controller
