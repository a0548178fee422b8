#pragma once
// Where the kernel's filesystems are: bpffs for pins, cgroup v2 for the socket hooks.
#include <optional>
#include <string>

#include "base/result.h"

namespace bpfproxy::loader {

// The cgroup v2 mount point from /proc/self/mountinfo (not assumed to be /sys/fs/cgroup).
std::optional<std::string> findCgroup2Mount(const std::string& mountinfo = "/proc/self/mountinfo");

// Mounts bpffs at the filesystem holding `pinDir` when none is mounted there, then creates
// `pinDir` and its maps/ and links/ directories.
Status preparePinDir(const std::string& pinDir);

// True when `path` is on a bpf filesystem.
bool isOnBpffs(const std::string& path);

}  // namespace bpfproxy::loader
