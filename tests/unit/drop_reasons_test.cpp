// The reason labels of bpfproxy_drops_total (and `bpfproxy status`) are a contract: the
// names docs/operations.md gave first are exported, whatever the macro behind them is called.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "bpf/maps_abi.h"
#include "maps/stat_names.h"

using namespace bpfproxy;

namespace {

std::string reasonOf(unsigned index) {
  for (const auto& counter : maps::dropCounters())
    if (counter.index == index) return counter.reason;
  return "(not a drop counter)";
}

}  // namespace

TEST_CASE("drop reasons: each counter exports the name it was first documented with") {
  struct Case {
    unsigned index;
    const char* documented;
  };
  const Case cases[] = {
      {BPX_STAT_DROP_NO_BACKEND, "no_backend"},       {BPX_STAT_DROP_NO_PORT, "no_port"},
      {BPX_STAT_DROP_STALE, "stale"},                 {BPX_STAT_DROP_UNALLOCATED, "unallocated"},
      {BPX_STAT_DROP_SRC_RANGE, "source_range"},      {BPX_STAT_BIND_REFUSED, "bind_refused"},
      {BPX_STAT_TC_DROP_NO_LOCAL, "tc_no_local"},     {BPX_STAT_TC_DROP_SRC_RANGE, "tc_src_range"},
      {BPX_STAT_TC_REJECT_NO_PORT, "tc_reject_no_port"},
      {BPX_STAT_TC_REJECT_UNALLOCATED, "tc_reject_unallocated"},
      {BPX_STAT_TC_DROP_EXT_CLUSTER_IP, "tc_ext_cluster_ip"},
      {BPX_STAT_TC_DROP_SNAT_PORTS, "tc_snat_ports"},
      {BPX_STAT_TC_DROP_UNSUPPORTED, "tc_unsupported"},
      {BPX_STAT_TC_REJECT_NO_BACKEND, "tc_reject_no_backend"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.documented);
    CHECK(reasonOf(c.index) == c.documented);
  }
}

TEST_CASE("drop reasons: no two counters share a label, none is exported twice") {
  std::vector<std::string> reasons;
  for (const auto& counter : maps::dropCounters()) reasons.push_back(counter.reason);
  std::sort(reasons.begin(), reasons.end());
  CHECK(std::adjacent_find(reasons.begin(), reasons.end()) == reasons.end());
  CHECK(std::find(reasons.begin(), reasons.end(), "src_range") == reasons.end());
}
