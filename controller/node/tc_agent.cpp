#include "controller/node/tc_agent.h"

#include <fnmatch.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "controller/source/bypass_pods.h"
#include "controller/sync/reconciler.h"

namespace bpfproxy::controller {

namespace {

constexpr const char* kReservedPorts = "/proc/sys/net/ipv4/ip_local_reserved_ports";

bool isLinkLocal(const IpAddress& address) {
  const auto& b = address.bytes();
  return !address.isV4() && b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

std::vector<NodeAddress> deviceAddresses(const std::vector<std::string>& devices,
                                         const std::vector<Cidr>& nodePortAddresses) {
  std::vector<NodeAddress> result;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return result;
  for (const auto& device : devices) {
    for (ifaddrs* entry = list; entry; entry = entry->ifa_next) {
      if (!entry->ifa_addr || device != entry->ifa_name) continue;
      std::array<uint8_t, 16> bytes{};
      if (entry->ifa_addr->sa_family == AF_INET) {
        bytes[10] = bytes[11] = 0xff;
        std::memcpy(&bytes[12], &reinterpret_cast<sockaddr_in*>(entry->ifa_addr)->sin_addr, 4);
      } else if (entry->ifa_addr->sa_family == AF_INET6) {
        std::memcpy(bytes.data(), &reinterpret_cast<sockaddr_in6*>(entry->ifa_addr)->sin6_addr, 16);
      } else {
        continue;
      }
      IpAddress address(bytes);
      if (isLinkLocal(address)) continue;
      bool nodePort = nodePortAddresses.empty();
      for (const auto& cidr : nodePortAddresses) nodePort = nodePort || cidr.contains(address);
      result.push_back({address, static_cast<int>(if_nametoindex(entry->ifa_name)), nodePort});
    }
  }
  freeifaddrs(list);
  return result;
}

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

// This process's network namespace cookie (kernel 5.14+), 0 when unknown.
uint64_t netnsCookie() {
  uint64_t cookie = 0;
  socklen_t length = sizeof(cookie);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
  if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &length) != 0) cookie = 0;
  close(fd);
  return cookie;
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
                 const loader::MapSizes& sizes, const Reconciler& reconciler)
    : options_(options), pinDir_(pinDir), reconciler_(reconciler) {
  datapath_ = std::make_unique<loader::TcDatapath>(pinDir, sizes);
  std::string error;
  if (!maps_.open(pinDir, &error)) throw std::runtime_error(error);
  state_ = std::make_unique<TcMapState>(maps_);
  options_.settings.nodeNetnsCookie = netnsCookie();
  auto addresses = deviceAddresses(options.devices, options.nodePortAddresses);
  if (auto failed = state_->setNode(options_.settings, addresses, options.serviceCidrs); !failed.empty())
    throw std::runtime_error(failed);
  for (const auto& node : addresses)
    spdlog::info("node address {}{}", node.address.toString(), node.nodePort ? " (NodePorts)" : "");
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
  std::lock_guard lock(stateMutex_);
  if (auto failed = state_->setBypass(workloads); !failed.empty()) {
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
  {
    std::lock_guard lock(stateMutex_);
    std::set<uint32_t> withRanges;
    for (const auto& frontend : frontends) {
      if (!(frontend.flags & BPX_SVC_F_SOURCE_RANGES)) continue;
      if (auto svcId = reconciler_.serviceId(frontend.key)) {
        withRanges.insert(*svcId);
        if (auto error = state_->setSourceRanges(*svcId, frontend.sourceRanges); !error.empty())
          spdlog::error("{}: {}", key.toString(), error);
      }
    }
    // Ids that lost their ranges (or their frontend): a reused id must start clean.
    for (uint32_t svcId : rangesByService_[key])
      if (!withRanges.count(svcId)) state_->setSourceRanges(svcId, {});
    rangesByService_[key] = withRanges;
  }
  if (!service || service->externalTrafficPolicy != "Local" || service->healthCheckNodePort == 0) {
    health_.remove(key.namespace_, key.name);
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
