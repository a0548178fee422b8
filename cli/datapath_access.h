#pragma once
// Opening the pinned datapath for the inspection commands, with one message and exit code
// (kExitNotFound) when nothing is pinned there.
#include <string>

#include "maps/datapath_maps.h"
#include "maps/snapshot_reader.h"

namespace bpfproxy::cli {

bool openDatapath(const std::string& pinDir, maps::DatapathMaps& datapath, int& exitCode);
bool openSnapshot(const std::string& pinDir, maps::DatapathSnapshot& snapshot, int& exitCode);

// A map of the per-packet datapath by name; invalid (and a message naming what is missing,
// with exit code kExitNotFound) when this datapath has none.
maps::MapFd openOptionalMap(const std::string& pinDir, const std::string& name, const std::string& what,
                            int& exitCode);

}  // namespace bpfproxy::cli
