// The reason labels of bpfproxy_drops_total (and `bpfproxy status`) are a contract: the
// labels docs/operations.md lists are the ones exported, read from the table generated from
// bpf/maps_abi.h, and a name documented before the naming rule keeps that name.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <set>
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

// The reasons docs/operations.md lists in the bpfproxy_drops_total row: the `words` after
// "socket hooks" made of lower-case letters, digits and '_'.
std::set<std::string> documentedReasons() {
  std::ifstream operations(std::string(BPFPROXY_SOURCE_DIR) + "/docs/operations.md");
  REQUIRE(operations.good());
  std::string line;
  while (std::getline(operations, line))
    if (line.starts_with("| `bpfproxy_drops_total{reason}` |")) break;
  const size_t listed = line.find("socket hooks");
  REQUIRE_MESSAGE(listed != std::string::npos, "no bpfproxy_drops_total row listing the reasons in docs/operations.md");
  std::set<std::string> reasons;
  for (size_t open = line.find('`', listed); open != std::string::npos; open = line.find('`', open + 1)) {
    const size_t close = line.find('`', open + 1);
    if (close == std::string::npos) break;
    const std::string word = line.substr(open + 1, close - open - 1);
    if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos)
      reasons.insert(word);
    open = close;
  }
  return reasons;
}

}  // namespace

TEST_CASE("drop reasons: the exported labels are the ones docs/operations.md lists") {
  const auto documented = documentedReasons();
  CHECK(documented.size() >= 10);  // the row was found and read
  std::set<std::string> exported;
  for (const auto& counter : maps::dropCounters()) exported.insert(counter.reason);
  for (const auto& reason : exported) {
    CAPTURE(reason);
    CHECK_MESSAGE(documented.count(reason), "exported but not in docs/operations.md");
  }
  for (const auto& reason : documented) {
    CAPTURE(reason);
    CHECK_MESSAGE(exported.count(reason), "documented but no counter exports it");
  }
}

TEST_CASE("drop reasons: a name documented before the naming rule keeps it") {
  CHECK(maps::dropReason("DROP_SRC_RANGE") == "source_range");
  CHECK(reasonOf(BPX_STAT_DROP_SRC_RANGE) == "source_range");
  // The rule itself, on both paths.
  CHECK(reasonOf(BPX_STAT_DROP_NO_BACKEND) == "no_backend");
  CHECK(reasonOf(BPX_STAT_TC_DROP_SRC_RANGE) == "tc_src_range");
  CHECK(reasonOf(BPX_STAT_TC_REJECT_NO_PORT) == "tc_reject_no_port");
}

TEST_CASE("drop reasons: no two counters share a label, none is exported twice") {
  std::vector<std::string> reasons;
  for (const auto& counter : maps::dropCounters()) reasons.push_back(counter.reason);
  std::sort(reasons.begin(), reasons.end());
  CHECK(std::adjacent_find(reasons.begin(), reasons.end()) == reasons.end());
  CHECK(std::find(reasons.begin(), reasons.end(), "src_range") == reasons.end());
}
