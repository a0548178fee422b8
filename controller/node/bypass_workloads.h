#pragma once
// Bypassing Pods (from the store) as the datapath knows them: their addresses and their
// cgroup's id, which the socket hooks look up to leave the Pod's sockets alone.
#include <string>
#include <vector>

#include "controller/model/bypass_pod.h"
#include "controller/node/tc_state.h"

namespace bpfproxy::controller {

struct BypassWorkloads {
  std::vector<BypassWorkload> workloads;
  std::vector<std::string> errors;  // "default/a: cgroup /sys/.../x not found"
  std::string signature;            // equal when nothing the datapath holds changed
};

// Each Pod's cgroup annotation, relative to cgroupRoot unless absolute, resolved to its id
// (0 with an error when the cgroup is not there).
BypassWorkloads resolveBypassWorkloads(const std::vector<BypassPod>& pods, const std::string& cgroupRoot);

}  // namespace bpfproxy::controller
