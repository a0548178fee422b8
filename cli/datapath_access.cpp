#include "cli/datapath_access.h"

#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "maps/map_names.h"

namespace bpfproxy::cli {

bool openDatapath(const std::string& pinDir, maps::DatapathMaps& datapath, int& exitCode) {
  if (auto opened = datapath.open(pinDir); !opened) {
    std::cerr << "bpfproxy: " << opened.error().message << "\n(is the agent running with --pin-dir " << pinDir << "?)\n";
    exitCode = kExitNotFound;
    return false;
  }
  return true;
}

bool openSnapshot(const std::string& pinDir, maps::DatapathSnapshot& snapshot, int& exitCode) {
  maps::DatapathMaps datapath;
  if (!openDatapath(pinDir, datapath, exitCode)) return false;
  snapshot = maps::readSnapshot(datapath);
  return true;
}

void reportUnavailableMap(const std::string& pinDir, const std::string& name, const std::string& what,
                          const Error& error, int& exitCode) {
  std::error_code ec;
  if (std::filesystem::exists(maps::mapPinPath(pinDir, name), ec))
    std::cerr << "bpfproxy: " << error.message << "\n";
  else
    std::cerr << "bpfproxy: not available: this datapath has no " << what << " map (" << name << " under "
              << maps::mapsDir(pinDir) << "; it needs the TC datapath)\n";
  exitCode = kExitNotFound;
}

}  // namespace bpfproxy::cli
