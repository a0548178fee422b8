#include "controller/node/tc_agent.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "controller/model/input_checks.h"
#include "controller/node/bypass_workloads.h"
#include "controller/node/host_network.h"

namespace bpfproxy::controller {

TcAgent::TcAgent(const TcAgentOptions& options, const std::string& pinDir,
                 const loader::MapSizes& sizes, NodeState& node)
    : options_(options), pinDir_(pinDir), node_(node), health_(HttpLimits{}, options.proxyHealthy) {
  datapath_ = std::make_unique<loader::TcDatapath>(pinDir, sizes);
  for (const auto& device : options.devices)
    for (const auto& attached : datapath_->attachNodeDevice(device))
      spdlog::info("{} {} on {} {} ({})", attached.updated ? "updated" : "attached", attached.program,
                   device, attached.ingress ? "ingress" : "egress", attached.how);
  // Per network namespace: no local socket is given a NodePort or SNAT port by the kernel,
  // so none can collide with a translated flow.
  if (options.reservePorts && !options.devices.empty())
    reservePorts({{options.settings.nodePortMin, options.settings.nodePortMax},
                  {options.settings.snatPortMin, options.settings.snatPortMax}});
  rescan();
  thread_ = std::thread([this] { run(); });
}

TcAgent::~TcAgent() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void TcAgent::run() {
  while (!stopping_) {
    for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!stopping_) rescan();
  }
}

void TcAgent::rescan() {
  attachPodDevices();
  if (options_.bypassPods) syncBypassPods();
}

void TcAgent::attachPodDevices() {
  for (const auto& device : matchingDevices(options_.podDeviceGlobs)) {
    if (podDevices_.count(device)) continue;
    try {
      for (const auto& attached : datapath_->attachPodDevice(device))
        spdlog::info("{} {} on pod device {} {}", attached.updated ? "updated" : "attached",
                     attached.program, device, attached.ingress ? "ingress" : "egress");
      podDevices_.insert(device);
    } catch (const std::exception& error) {
      spdlog::warn("{}", error.what());  // a device that went away meanwhile
    }
  }
  for (const auto& line : datapath_->pruneDeadLinks()) spdlog::info("{}", line);
  std::set<std::string> present;
  for (const auto& device : matchingDevices(options_.podDeviceGlobs)) present.insert(device);
  for (auto it = podDevices_.begin(); it != podDevices_.end();)
    it = present.count(*it) ? std::next(it) : podDevices_.erase(it);
}

void TcAgent::syncBypassPods() {
  std::vector<std::string> errors;
  BypassWorkloads resolved = resolveBypassWorkloads(options_.bypassPods(errors), options_.cgroupRoot);
  errors.insert(errors.end(), resolved.errors.begin(), resolved.errors.end());
  if (resolved.signature == bypassSignature_) return;
  for (const auto& error : errors) spdlog::warn("bypassing pods: {}", error);
  if (auto written = node_.setBypass(resolved.workloads); !written) {
    spdlog::error("{}", written.error().message);
    return;
  }
  bypassSignature_ = resolved.signature;
  for (const auto& workload : resolved.workloads)
    spdlog::info("pod {} bypasses the socket hooks: per-packet path for {} address(es), cgroup id {}",
                 workload.name, workload.addresses.size(), workload.cgroupId);
}

void TcAgent::serviceSynced(const ServiceKey& key, const Service* service,
                            const std::vector<FrontendSpec>& frontends) {
  if (!service || service->externalTrafficPolicy != "Local" || service->healthCheckNodePort == 0) {
    health_.remove(key.namespace_, key.name);
    return;
  }
  // A health server binds a port on every node address: only inside the NodePort range,
  // where the API server allocates it, so a Service cannot take the node's other ports.
  const PortRange range{options_.settings.nodePortMin, options_.settings.nodePortMax};
  if (!range.contains(service->healthCheckNodePort)) {
    health_.remove(key.namespace_, key.name);
    spdlog::warn("Service {}: healthCheckNodePort {} is outside the NodePort range {}; not served",
                 key.toString(), service->healthCheckNodePort, range.toString());
    return;
  }
  std::set<IpAddress> local;
  for (const auto& frontend : frontends)
    if (frontend.flags & BPX_SVC_F_LOCAL)
      for (const auto& backend : frontend.backends)
        if (backend.local) local.insert(backend.address);
  if (auto served = health_.update(key.namespace_, key.name, service->healthCheckNodePort,
                                   static_cast<uint32_t>(local.size()));
      !served)
    spdlog::warn("{}", served.error().message);
}

}  // namespace bpfproxy::controller
