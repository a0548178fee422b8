#include "controller/node/tc_agent.h"

#include <fnmatch.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "controller/model/input_checks.h"
#include "controller/source/bypass_pods.h"

namespace bpfproxy::controller {

namespace {

constexpr const char* kReservedPorts = "/proc/sys/net/ipv4/ip_local_reserved_ports";

std::vector<std::string> matchingDevices(const std::vector<std::string>& globs) {
  std::vector<std::string> names;
  if (globs.empty()) return names;
  if (struct if_nameindex* list = ::if_nameindex()) {
    for (auto* entry = list; entry->if_index; ++entry)
      for (const auto& glob : globs)
        if (fnmatch(glob.c_str(), entry->if_name, 0) == 0) {
          names.push_back(entry->if_name);
          break;
        }
    if_freenameindex(list);
  }
  return names;
}

}  // namespace

std::vector<std::string> defaultRouteDevices() {
  std::set<std::string> devices;
  std::ifstream v4("/proc/net/route");
  std::string line;
  std::getline(v4, line);  // header
  while (std::getline(v4, line)) {
    std::istringstream fields(line);
    std::string name, destination, gateway, flags, refcnt, use, metric, mask;
    fields >> name >> destination >> gateway >> flags >> refcnt >> use >> metric >> mask;
    if (destination == "00000000" && mask == "00000000") devices.insert(name);
  }
  std::ifstream v6("/proc/net/ipv6_route");
  while (std::getline(v6, line)) {
    std::istringstream fields(line);
    std::string destination, prefix, source, sourcePrefix, next, metric, refcnt, use, flags, name;
    fields >> destination >> prefix >> source >> sourcePrefix >> next >> metric >> refcnt >> use >> flags >> name;
    if (destination == std::string(32, '0') && prefix == "00" && name != "lo") devices.insert(name);
  }
  return {devices.begin(), devices.end()};
}

std::optional<std::pair<uint16_t, uint16_t>> parsePortRange(const std::string& text) {
  unsigned low = 0, high = 0;
  char dash = 0;
  std::istringstream in(text);
  if (!(in >> low >> dash >> high) || dash != '-' || low == 0 || high > 65535 || low > high) return std::nullopt;
  return std::make_pair(static_cast<uint16_t>(low), static_cast<uint16_t>(high));
}

std::string mergeReservedPorts(const std::string& current,
                               const std::vector<std::pair<uint16_t, uint16_t>>& ranges) {
  std::string result = current;
  while (!result.empty() && (result.back() == '\n' || result.back() == ' ')) result.pop_back();
  for (const auto& [low, high] : ranges) {
    std::string range = std::to_string(low) + "-" + std::to_string(high);
    std::string padded = "," + result + ",";
    if (padded.find("," + range + ",") != std::string::npos) continue;
    result += (result.empty() ? "" : ",") + range;
  }
  return result;
}

TcAgent::TcAgent(const TcAgentOptions& options, const std::string& pinDir,
                 const loader::MapSizes& sizes, NodeState& node)
    : options_(options), pinDir_(pinDir), node_(node), health_(HttpLimits{}, options.proxyHealthy) {
  datapath_ = std::make_unique<loader::TcDatapath>(pinDir, sizes);
  for (const auto& device : options.devices)
    for (const auto& attached : datapath_->attachNodeDevice(device))
      spdlog::info("{} {} on {} {} ({})", attached.updated ? "updated" : "attached", attached.program,
                   device, attached.ingress ? "ingress" : "egress", attached.how);
  if (options.reservePorts && !options.devices.empty()) {
    // Per network namespace: no local socket is given a NodePort or SNAT port by the
    // kernel, so none can collide with a translated flow.
    std::ifstream in(kReservedPorts);
    std::string current;
    std::getline(in, current);
    auto merged = mergeReservedPorts(current, {{options.settings.nodePortMin, options.settings.nodePortMax},
                                               {options.settings.snatPortMin, options.settings.snatPortMax}});
    if (merged != current) {
      std::ofstream out(kReservedPorts);
      out << merged << "\n";
      if (!out.flush()) spdlog::warn("cannot write {}: NodePorts are not reserved", kReservedPorts);
      else spdlog::info("reserved ports {} in {}", merged, kReservedPorts);
    }
  }
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

  if (!options_.bypassPods) return;
  std::vector<std::string> errors;
  std::vector<BypassWorkload> workloads;
  std::string signature;
  for (const auto& pod : options_.bypassPods(errors)) {
    BypassWorkload workload{pod.key, pod.addresses, 0};
    if (!pod.cgroup.empty()) {
      std::string path = pod.cgroup.front() == '/' ? pod.cgroup : options_.cgroupRoot + "/" + pod.cgroup;
      workload.cgroupId = loader::cgroupId(path);
      if (!workload.cgroupId) errors.push_back(pod.key + ": cgroup " + path + " not found");
    }
    signature += pod.key + "=" + std::to_string(workload.cgroupId);
    for (const auto& address : pod.addresses) signature += "," + address.toString();
    signature += ";";
    workloads.push_back(std::move(workload));
  }
  if (signature == bypassSignature_) return;
  for (const auto& error : errors) spdlog::warn("bypassing pods: {}", error);
  if (auto failed = node_.setBypass(workloads); !failed.empty()) {
    spdlog::error("{}", failed);
    return;
  }
  bypassSignature_ = signature;
  for (const auto& workload : workloads)
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
  if (auto error = health_.update(key.namespace_, key.name, service->healthCheckNodePort,
                                  static_cast<uint32_t>(local.size()));
      !error.empty())
    spdlog::warn("{}", error);
}

}  // namespace bpfproxy::controller
