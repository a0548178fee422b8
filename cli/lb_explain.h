#pragma once
// What a frontend's load-balancing algorithm computes for one flow, for `explain` and
// `maglev show`: the same arithmetic as bpf/lib/lb_pick.bpf.h over the snapshot's slots.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/ops_views.h"
#include "maps/datapath_snapshot.h"

namespace bpfproxy::cli {

struct LbPick {
  std::string algorithm;            // "maglev: ..." the rule, in words
  std::optional<uint32_t> backendId;  // when the flow alone decides it
  std::string detail;               // how it was computed
};

// The positions a new flow picks among: the lookup table, or the backends without one.
const std::vector<uint32_t>& lbPositions(const maps::SnapshotFrontend& frontend);

LbPick explainLbPick(const maps::SnapshotFrontend& frontend, const FlowQuery& query);

}  // namespace bpfproxy::cli
