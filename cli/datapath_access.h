#pragma once
// Opening the pinned datapath for the inspection commands, with one message and exit code
// (kExitNotFound) when nothing is pinned there.
#include <string>

#include "base/result.h"
#include "maps/datapath_maps.h"
#include "maps/snapshot_reader.h"

namespace bpfproxy::cli {

bool openDatapath(const std::string& pinDir, maps::DatapathMaps& datapath, int& exitCode);
bool openSnapshot(const std::string& pinDir, maps::DatapathSnapshot& snapshot, int& exitCode);

// Says why a map of the per-packet datapath did not open: the error when it is pinned, else
// what is missing; sets exit code kExitNotFound.
void reportUnavailableMap(const std::string& pinDir, const std::string& name, const std::string& what,
                          const Error& error, int& exitCode);

// A map of the per-packet datapath by name (checked against the table and Map's types);
// invalid, with the message above, when this datapath has none.
template <typename Map>
Map openOptionalMap(const std::string& pinDir, const std::string& name, const std::string& what, int& exitCode) {
  auto map = Map::open(pinDir, name);
  if (map) return std::move(map).value();
  reportUnavailableMap(pinDir, name, what, map.error(), exitCode);
  return {};
}

}  // namespace bpfproxy::cli
