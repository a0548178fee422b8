#include "controller/node/host_network.h"

#include <fnmatch.h>
#include <net/if.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <set>
#include <sstream>

namespace bpfproxy::controller {

namespace {
constexpr const char* kReservedPorts = "/proc/sys/net/ipv4/ip_local_reserved_ports";
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

std::optional<PortPair> parsePortRange(const std::string& text) {
  unsigned low = 0, high = 0;
  char dash = 0;
  std::istringstream in(text);
  if (!(in >> low >> dash >> high) || dash != '-' || low == 0 || high > 65535 || low > high) return std::nullopt;
  return std::make_pair(static_cast<uint16_t>(low), static_cast<uint16_t>(high));
}

std::string mergeReservedPorts(const std::string& current, const std::vector<PortPair>& ranges) {
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

void reservePorts(const std::vector<PortPair>& ranges) {
  std::ifstream in(kReservedPorts);
  std::string current;
  std::getline(in, current);
  auto merged = mergeReservedPorts(current, ranges);
  if (merged == current) return;
  std::ofstream out(kReservedPorts);
  out << merged << "\n";
  if (!out.flush()) spdlog::warn("cannot write {}: NodePorts are not reserved", kReservedPorts);
  else spdlog::info("reserved ports {} in {}", merged, kReservedPorts);
}

}  // namespace bpfproxy::controller
