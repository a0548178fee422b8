#include "maps/stat_names.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "maps/bpx_stat_names.h"

namespace bpfproxy::maps {

namespace {

std::vector<std::string> words(std::string_view name) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('_', start);
    if (end == std::string_view::npos) end = name.size();
    out.emplace_back(name.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

const std::vector<StatName>& statNames() {
  static const std::vector<StatName> names = [] {
    std::vector<StatName> out;
    for (const auto& entry : generated::kStatEntries) out.push_back({entry.index, entry.name, entry.help});
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    return out;
  }();
  return names;
}

bool isDropStat(std::string_view name) {
  for (const auto& word : words(name))
    if (word == "DROP" || word == "REJECT" || word == "REFUSED") return true;
  return false;
}

std::string dropReason(std::string_view name) {
  // Reasons documented (docs/operations.md) before the labels were derived from the macro
  // names: a label is a contract, so these keep their documented spelling.
  static constexpr std::pair<std::string_view, std::string_view> kDocumentedFirst[] = {
      {"DROP_SRC_RANGE", "source_range"},
  };
  for (const auto& [macro, documented] : kDocumentedFirst)
    if (name == macro) return std::string(documented);
  std::string reason;
  for (const auto& word : words(name)) {
    if (word == "DROP") continue;
    if (!reason.empty()) reason += '_';
    for (char c : word) reason += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return reason;
}

const std::vector<DropCounter>& dropCounters() {
  static const std::vector<DropCounter> counters = [] {
    std::vector<DropCounter> out;
    for (const auto& stat : statNames())
      if (isDropStat(stat.name)) out.push_back({stat.index, dropReason(stat.name), stat.help});
    return out;
  }();
  return counters;
}

}  // namespace bpfproxy::maps
