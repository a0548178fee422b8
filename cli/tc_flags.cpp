#include "cli/tc_flags.h"

#include <sstream>

#include "controller/node/host_network.h"

namespace bpfproxy::cli {

void addTcFlags(CLI::App& command, TcFlags& flags) {
  command.add_option("--devices", flags.devices,
                     "Node devices for NodePorts, externalIPs and load-balancer IPs: IF[,IF], "
                     "'auto' (the devices carrying default routes) or 'none'")
      ->capture_default_str();
  command.add_option("--pod-devices", flags.podDevices,
                     "Pod-facing devices (globs, e.g. 'veth*'): per-packet ClusterIPs for pods "
                     "labelled or annotated bpfproxy.io/socket-lb=bypass")
      ->delimiter(',');
  command.add_option("--nodeport-addresses", flags.nodePortAddresses,
                     "CIDRs of the device addresses NodePorts answer on (default: all)")
      ->delimiter(',');
  command.add_option("--nodeport-range", flags.nodePortRange, "The cluster's NodePort range")
      ->capture_default_str();
  command.add_option("--snat-port-range", flags.snatPortRange,
                     "Source ports for SNAT of externalTrafficPolicy Cluster flows (reserved on the node)")
      ->capture_default_str();
  command.add_flag("--allow-external-clusterip", flags.allowExternalClusterIp,
                   "Serve ClusterIPs to clients outside the cluster");
  command.add_flag("--allow-external-ips", flags.allowExternalIps,
                   "Serve externalIPs not assigned to this node (the default; kept for old command lines)");
  command.add_flag("--external-ips-node-only", flags.externalIpsNodeOnly,
                   "Serve an externalIP only where it is assigned to this node (CVE-2020-8554 guard; "
                   "upstream's answer is the DenyServiceExternalIPs admission plugin)");
  command.add_option("--reserve-ports", flags.reservePorts,
                     "Reserve the NodePort and SNAT ranges in ip_local_reserved_ports")
      ->capture_default_str();
}

Status buildTcOptions(const TcFlags& flags,
                           controller::AgentOptions& options) {
  auto& tc = options.tc;
  if (flags.devices == "auto") {
    tc.devices = controller::defaultRouteDevices();
  } else if (flags.devices != "none" && !flags.devices.empty()) {
    std::istringstream list(flags.devices);
    for (std::string device; std::getline(list, device, ',');)
      if (!device.empty()) tc.devices.push_back(device);
  }
  tc.podDeviceGlobs = flags.podDevices;
  for (const auto& text : flags.nodePortAddresses) {
    auto cidr = Cidr::parse(text);
    if (!cidr) return Error{"--nodeport-addresses: '" + text + "' is not a CIDR"};
    tc.nodePortAddresses.push_back(*cidr);
  }
  auto nodePorts = controller::parsePortRange(flags.nodePortRange);
  if (!nodePorts) return Error{"--nodeport-range: '" + flags.nodePortRange + "' is not a range like 30000-32767"};
  auto snatPorts = controller::parsePortRange(flags.snatPortRange);
  if (!snatPorts) return Error{"--snat-port-range: '" + flags.snatPortRange + "' is not a range like 61000-65535"};
  if (snatPorts->first <= nodePorts->second && nodePorts->first <= snatPorts->second)
    return Error{"--snat-port-range must not overlap --nodeport-range"};
  tc.settings.nodePortMin = nodePorts->first;
  tc.settings.nodePortMax = nodePorts->second;
  options.model.nodePortRange = {nodePorts->first, nodePorts->second};
  tc.settings.snatPortMin = snatPorts->first;
  tc.settings.snatPortMax = snatPorts->second;
  tc.settings.allowExternalClusterIp = flags.allowExternalClusterIp;
  if (flags.allowExternalIps && flags.externalIpsNodeOnly)
    return Error{"--allow-external-ips and --external-ips-node-only contradict each other"};
  tc.settings.externalIpsNodeOnly = flags.externalIpsNodeOnly;
  tc.reservePorts = flags.reservePorts;
  // Bypassing Pods come from the source (manifests or the API), through the store: runAgent
  // hands them to the TC agent.
  tc.cgroupRoot = options.cgroupPath;
  tc.nodeName = options.nodeName;
  tc.serviceCidrs = options.model.serviceCidrs;
  return {};
}

}  // namespace bpfproxy::cli
