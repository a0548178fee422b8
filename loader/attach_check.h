#pragma once
// Are the programs still attached where the agent put them? Read from the pinned links, so
// health, metrics, `status` and `doctor` all answer the same way, with or without the agent.
#include <cstdint>
#include <string>
#include <vector>

namespace bpfproxy::loader {

struct ProgramAttachment {
  std::string program;  // bpx_connect4
  std::string hook;     // connect4, or the TC hook name
  std::string linkPin;  // <pin-dir>/links/<program>
  bool pinned = false;    // the link pin exists
  bool attached = false;  // the link still holds its cgroup (or device)
  uint64_t cgroupId = 0;  // cgroup links: the cgroup it is attached to
  uint32_t ifindex = 0;   // tcx links: the device
  std::string detail;     // why not attached, when it is not
};

// Every expected socket program plus any other link pinned under <pin-dir>/links.
std::vector<ProgramAttachment> checkAttachments(const std::string& pinDir);

// True when every expected program is pinned and attached; *why names the first that is not.
bool allAttached(const std::vector<ProgramAttachment>& programs, std::string* why = nullptr);

}  // namespace bpfproxy::loader
