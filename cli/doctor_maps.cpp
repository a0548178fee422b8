// doctor's map checks, driven by the table of maps (maps/map_table.h): every map the agent
// pins is there and is this build's map (kind, key and value sizes).
#include <filesystem>

#include "cli/ops_views.h"
#include "maps/map_names.h"
#include "maps/map_open.h"
#include "maps/map_table.h"
#include "maps/map_usage.h"

namespace bpfproxy::cli {

std::vector<Finding> checkPinnedMaps(const std::string& pinDir) {
  std::error_code ec;
  if (!std::filesystem::exists(maps::mapsDir(pinDir), ec))
    return {{"maps pinned", "warn", "no maps pinned under " + pinDir,
             "start the agent (bpfproxy agent --pin-dir " + pinDir + ")"}};
  std::vector<Finding> findings;
  for (const auto& spec : maps::mapTable()) {
    const std::string check = std::string("map: ") + spec.name;
    if (!std::filesystem::exists(maps::mapPinPath(pinDir, spec.name), ec)) {
      findings.push_back({check, "fail", "not pinned", "restart the agent: it pins every map it uses"});
      continue;
    }
    auto info = maps::inspectPinnedMap(pinDir, spec);
    if (!info) {
      findings.push_back({check, "fail", info.error().message,
                          "bpfproxy cleanup --pin-dir " + pinDir + ", then restart the agent"});
      continue;
    }
    std::string detail = maps::mapTypeName(info->type);
    if (spec.sizedBy || spec.fixedEntries)
      detail += ", " + std::to_string(info->maxEntries) + " entries" + (spec.flag ? std::string(" (") + spec.flag + ")" : "");
    findings.push_back({check, "ok", detail, ""});
  }
  return findings;
}

}  // namespace bpfproxy::cli
