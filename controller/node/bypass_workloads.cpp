#include "controller/node/bypass_workloads.h"

#include "loader/socket_lb_loader.h"

namespace bpfproxy::controller {

BypassWorkloads resolveBypassWorkloads(const std::vector<BypassPod>& pods, const std::string& cgroupRoot) {
  BypassWorkloads result;
  for (const auto& pod : pods) {
    BypassWorkload workload{pod.key, pod.addresses, 0};
    if (!pod.cgroup.empty()) {
      std::string path = pod.cgroup.front() == '/' ? pod.cgroup : cgroupRoot + "/" + pod.cgroup;
      workload.cgroupId = loader::cgroupId(path);
      if (!workload.cgroupId) result.errors.push_back(pod.key + ": cgroup " + path + " not found");
    }
    result.signature += pod.key + "=" + std::to_string(workload.cgroupId);
    for (const auto& address : pod.addresses) result.signature += "," + address.toString();
    result.signature += ";";
    result.workloads.push_back(std::move(workload));
  }
  return result;
}

}  // namespace bpfproxy::controller
