#pragma once
// Keeps the agent's pins in bpffs. Someone removing a pin (rm, a cleanup script, a bpffs
// remount) would otherwise lose a map to the next agent, or detach a program at once: a
// cgroup link dies with its last reference. The guard holds an fd of every map and link
// pinned under <pin-dir>/maps and <pin-dir>/links, so the objects live on, and pins them
// again where they were. A path that now holds another object is left alone and reported.
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace bpfproxy::loader {

class PinGuard {
public:
  explicit PinGuard(std::string pinDir) : pinDir_(std::move(pinDir)) {}
  PinGuard(const PinGuard&) = delete;
  PinGuard& operator=(const PinGuard&) = delete;

  // Opens every pin not held yet (call after load). The error names every pin that could
  // not be opened (the errno is the first one's); the others are held all the same.
  Status hold();
  struct Repair {
    std::string path;
    bool repaired = false;
    std::string message;  // "pin <path> was removed; pinned again from the agent's fd"
  };
  // Pins again what was removed; one entry per pin found missing or replaced.
  std::vector<Repair> check();
  size_t held() const { return pins_.size(); }

private:
  struct Held {
    std::string path;
    UniqueFd fd;  // a map or link
    unsigned id = 0;
    bool reported = false;  // a problem it cannot repair is said once
  };
  std::string pinDir_;
  std::vector<Held> pins_;
};

// The kernel id of the BPF object (map, link or program) behind an fd; 0 when unknown.
unsigned bpfObjectId(int fd);

}  // namespace bpfproxy::loader
