#pragma once
// The workloads that bypass the socket hooks (service meshes, VMs, sandboxed runtimes):
// Pods labelled or annotated bpfproxy.io/socket-lb=bypass. For each one on this node the
// agent lists its addresses for the pod-facing TC programs and its cgroup for the socket
// hooks' opt-out, so each workload is translated by exactly one path.
#include <string>
#include <vector>

#include "maps/ip_address.h"

namespace bpfproxy::controller {

inline constexpr const char* kSocketLbKey = "bpfproxy.io/socket-lb";  // label or annotation
inline constexpr const char* kSocketLbBypass = "bypass";
// The Pod's cgroup v2 directory, relative to the agent's --cgroup (or absolute). Without it
// only the pod-facing TC path is set up: the runtime must keep the Pod out of the cgroup
// the socket hooks are attached to.
inline constexpr const char* kCgroupAnnotation = "bpfproxy.io/cgroup";

struct BypassPod {
  std::string key;  // namespace/name
  std::string nodeName;
  std::vector<IpAddress> addresses;  // status.podIPs
  std::string cgroup;                // the annotation, as written
};

}  // namespace bpfproxy::controller
