#include "loader/system_paths.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "maps/map_names.h"

namespace bpfproxy::loader {

namespace fs = std::filesystem;

std::optional<std::string> findCgroup2Mount(const std::string& mountinfo) {
  std::ifstream in(mountinfo);
  std::string line;
  while (std::getline(in, line)) {
    // "<id> <parent> <dev> <root> <mount point> <options> ... - <fstype> <source> <opts>"
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup2") continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, dev, root, mountPoint;
    head >> id >> parent >> dev >> root >> mountPoint;
    return mountPoint;
  }
  return std::nullopt;
}

bool isOnBpffs(const std::string& path) {
  struct statfs info {};
  return statfs(path.c_str(), &info) == 0 && info.f_type == BPF_FS_MAGIC;
}

Status preparePinDir(const std::string& pinDir) {
  // The bpffs mount is the top-most existing ancestor below which pins live; by default
  // /sys/fs/bpf. Mount it there when it is a plain directory.
  fs::path mountPoint = fs::path(pinDir).parent_path();
  std::error_code ec;
  if (!fs::exists(mountPoint, ec)) fs::create_directories(mountPoint, ec);
  if (!isOnBpffs(mountPoint.string())) {
    if (mount("bpf", mountPoint.c_str(), "bpf", 0, "mode=0700") != 0)
      return systemError("cannot mount bpffs at " + mountPoint.string());
  }
  for (const auto& dir : {pinDir, maps::mapsDir(pinDir), maps::linksDir(pinDir)}) {
    fs::create_directories(dir, ec);
    if (ec) return Error{"cannot create pin directory " + dir + ": " + ec.message(), ec.value()};
  }
  if (!isOnBpffs(pinDir)) return Error{"pin directory " + pinDir + " is not on a bpf filesystem"};
  return {};
}

}  // namespace bpfproxy::loader
