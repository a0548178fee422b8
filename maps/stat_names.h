#pragma once
// The datapath's counters (BPX_STAT_* of bpf/maps_abi.h) by name, read from a table generated
// from that header, so a counter added there reaches metrics and `bpfproxy status` unlisted.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bpfproxy::maps {

struct StatName {
  uint32_t index;    // BPX_STAT_*
  std::string name;  // the macro's name without BPX_STAT_, e.g. "TC_DROP_NO_LOCAL"
  std::string help;  // the macro's comment
};

// Every BPX_STAT_* counter, in index order.
const std::vector<StatName>& statNames();

// A drop or refusal counter has DROP, REJECT or REFUSED among the words of its name.
bool isDropStat(std::string_view name);
// Its reason label: the name in lower case without the word DROP ("DROP_NO_BACKEND" ->
// "no_backend", "TC_DROP_NO_LOCAL" -> "tc_no_local", "TC_REJECT_NO_PORT" -> "tc_reject_no_port"),
// except a reason documented before that rule, which keeps its documented name
// ("DROP_SRC_RANGE" -> "source_range").
std::string dropReason(std::string_view name);

struct DropCounter {
  uint32_t index;
  std::string reason;
  std::string help;
};
// Every drop and refusal counter of both paths (socket hooks and TC), in index order.
const std::vector<DropCounter>& dropCounters();

}  // namespace bpfproxy::maps
