// `bpfproxy doctor`: checks what bpfproxy needs from the node, each finding with its fix.
// It only reads: iptables-save, `nft list` and /proc are read-only, nothing is changed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "base/unique_fd.h"
#include "cli/commands.h"
#include "cli/ops_views.h"
#include "cli/output.h"
#include "cli/run_command.h"
#include "cli/api_permissions.h"
#include "controller/source/kube/kubeconfig.h"
#include "cli/kube_proxy_state.h"
#include "cli/table.h"
#include "loader/attach_check.h"
#include "loader/kernel_features.h"
#include "loader/system_paths.h"
#include "maps/map_names.h"

namespace bpfproxy::cli {

namespace {

using web::json::value;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::pair<int, int>> parseRanges(const std::string& text) {
  std::vector<std::pair<int, int>> ranges;
  std::string cleaned = text;
  for (auto& c : cleaned)
    if (c == '\t' || c == '\n') c = ' ';
  // "32768 60999" (one range) or "30000-32767,40000" (a list)
  if (cleaned.find('-') == std::string::npos && cleaned.find(',') == std::string::npos) {
    std::istringstream in(cleaned);
    int low = 0, high = 0;
    if (in >> low >> high) ranges.push_back({low, high});
    else if (low) ranges.push_back({low, low});
    return ranges;
  }
  std::stringstream in(cleaned);
  std::string item;
  while (std::getline(in, item, ',')) {
    auto dash = item.find('-');
    try {
      if (dash == std::string::npos) ranges.push_back({std::stoi(item), std::stoi(item)});
      else ranges.push_back({std::stoi(item.substr(0, dash)), std::stoi(item.substr(dash + 1))});
    } catch (const std::exception&) {
    }
  }
  return ranges;
}

// host:port of the API server: --api-server, the kubeconfig's current context, or in-cluster env.
std::string apiServerAddress(const std::string& explicitServer, const std::string& kubeconfig, std::string& source) {
  std::string server = explicitServer;
  source = "--api-server";
  if (server.empty() && !kubeconfig.empty()) {
    source = kubeconfig;
    try {
      auto root = YAML::LoadFile(kubeconfig);
      auto current = root["current-context"].as<std::string>("");
      std::string clusterName;
      for (const auto& context : root["contexts"])
        if (context["name"].as<std::string>("") == current) clusterName = context["context"]["cluster"].as<std::string>("");
      for (const auto& cluster : root["clusters"])
        if (cluster["name"].as<std::string>("") == clusterName) server = cluster["cluster"]["server"].as<std::string>("");
    } catch (const std::exception&) {
      return "";
    }
  }
  if (server.empty() && std::getenv("KUBERNETES_SERVICE_HOST")) {
    source = "in-cluster environment";
    std::string host = std::getenv("KUBERNETES_SERVICE_HOST");
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    server = host + ":" + (std::getenv("KUBERNETES_SERVICE_PORT") ? std::getenv("KUBERNETES_SERVICE_PORT") : "443");
  }
  for (const char* scheme : {"https://", "http://"})
    if (server.rfind(scheme, 0) == 0) {
      bool tls = std::string(scheme) == "https://";
      server = server.substr(std::string(scheme).size());
      server = server.substr(0, server.find('/'));
      if (server.find(':') == std::string::npos || (server.front() == '[' && server.back() == ']'))
        server += tls ? ":443" : ":80";
    }
  return server;
}

// A TCP connect with a deadline: reachability, without speaking to the API at all.
std::string tcpReach(const std::string& hostPort) {
  auto colon = hostPort.rfind(':');
  std::string host = hostPort.substr(0, colon), port = hostPort.substr(colon + 1);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{}, *result = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &result); rc != 0) return gai_strerror(rc);
  std::string error = "no address";
  for (auto* ai = result; ai; ai = ai->ai_next) {
    UniqueFd owner(socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, 0));
    if (!owner) continue;
    int fd = owner.get();
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd pfd{fd, POLLOUT, 0};
      rc = poll(&pfd, 1, 2000) == 1 ? 0 : -1;
      int soError = ETIMEDOUT;
      socklen_t len = sizeof(soError);
      if (rc == 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len);
      if (rc != 0 || soError != 0) {
        errno = rc != 0 ? ETIMEDOUT : soError;
        rc = -1;
      }
    }
    error = rc == 0 ? "" : std::strerror(errno);
    if (rc == 0) break;
  }
  freeaddrinfo(result);
  return error;
}

}  // namespace

Finding checkPortRanges(const std::string& localPortRange, const std::string& reservedPorts, uint16_t nodePortMin,
                        uint16_t nodePortMax) {
  Finding finding{"nodeport range vs ip_local_port_range", "ok", "", ""};
  auto local = parseRanges(localPortRange);
  if (local.empty()) {
    finding.status = "skip";
    finding.detail = "cannot read net.ipv4.ip_local_port_range";
    return finding;
  }
  auto reserved = parseRanges(reservedPorts);
  std::string range = std::to_string(nodePortMin) + "-" + std::to_string(nodePortMax);
  int overlapLow = std::max<int>(local[0].first, nodePortMin), overlapHigh = std::min<int>(local[0].second, nodePortMax);
  if (overlapLow > overlapHigh) {
    finding.detail = "NodePorts " + range + " are outside the ephemeral ports " + std::to_string(local[0].first) + "-" +
                     std::to_string(local[0].second);
    return finding;
  }
  bool covered = false;
  for (const auto& [low, high] : reserved)
    if (low <= overlapLow && high >= overlapHigh) covered = true;
  if (covered) {
    finding.detail = "NodePorts " + range + " overlap the ephemeral ports, but ip_local_reserved_ports keeps them";
    return finding;
  }
  finding.status = "warn";
  finding.detail = "NodePorts " + std::to_string(overlapLow) + "-" + std::to_string(overlapHigh) +
                   " are also ephemeral ports: an outgoing connection may take a NodePort's port";
  finding.fix = "sysctl -w net.ipv4.ip_local_reserved_ports=" + range +
                " (persist it in /etc/sysctl.d/), or move ip_local_port_range above " + std::to_string(nodePortMax);
  return finding;
}

Finding checkKubeProxyRules(const KubeProxyLeftovers& state) {
  Finding finding{"leftover kube-proxy rules", "ok", "", ""};
  std::vector<std::string> active, inert;
  for (const auto& [backend, save] : state.iptables) {
    auto reached = activeKubeProxyChains(save);
    for (const auto& chain : reached) active.push_back(backend + " " + chain);
    // Listed by iptables-save but reached from no built-in chain: dead weight, no effect.
    for (const auto& chain : kubeProxyChains(save))
      if (std::find(reached.begin(), reached.end(), chain) == reached.end()) inert.push_back(backend + " " + chain);
  }
  for (const auto& table : state.nftTables) {
    bool hooked = std::find(state.hookedNftTables.begin(), state.hookedNftTables.end(), table) !=
                  state.hookedNftTables.end();
    (hooked ? active : inert).push_back("nftables table " + table);
  }
  if (state.ipvsServers > 0) active.push_back("IPVS: " + std::to_string(state.ipvsServers) + " virtual servers");
  if (state.ipvsDevice) active.push_back("IPVS dummy device kube-ipvs0 (holds the ClusterIPs as local addresses)");
  auto join = [](const std::vector<std::string>& items) {
    std::string text;
    for (const auto& item : items) text += (text.empty() ? "" : "; ") + item;
    return text;
  };
  if (active.empty()) {
    finding.detail = "no kube-proxy rule sees packets";
    if (!inert.empty()) finding.detail += " (left, but nothing reaches them: " + join(inert) + ")";
    return finding;
  }
  finding.status = "warn";
  finding.detail = join(active) + ": kube-proxy's rules still act on packets, after bpfproxy's socket hooks and "
                                  "before or after its TC programs, and can translate twice";
  finding.fix = "stop kube-proxy, then run `bpfproxy takeover` on the node (or `kube-proxy --cleanup`): it removes "
                "kube-proxy's iptables, nftables and IPVS state; doctor itself changes nothing";
  return finding;
}

// The node's netfilter and IPVS state that kube-proxy may have left, read-only.
KubeProxyLeftovers readKubeProxyLeftovers(bool& anyTool) {
  KubeProxyLeftovers state;
  anyTool = false;
  for (const char* family : {"iptables", "ip6tables"}) {
    bool split = false;
    for (const char* backend : {"legacy", "nft"}) {
      std::string name = std::string(family) + "-" + backend;
      if (auto save = readCommand(name + "-save")) {
        state.iptables.emplace_back(name, *save);
        anyTool = split = true;
      }
    }
    if (!split)
      if (auto save = readCommand(std::string(family) + "-save")) {
        state.iptables.emplace_back(family, *save);
        anyTool = true;
      }
  }
  if (auto tables = readCommand("nft list tables")) {
    anyTool = true;
    for (const auto& table : kubeProxyNftTables(*tables)) {
      state.nftTables.push_back(table);
      if (nftTableHooksPackets(readCommand("nft list table " + table).value_or("")))
        state.hookedNftTables.push_back(table);
    }
  }
  state.ipvsServers = ipvsVirtualServers(readFile("/proc/net/ip_vs"));
  std::error_code ec;
  state.ipvsDevice = std::filesystem::exists("/sys/class/net/kube-ipvs0", ec);
  return state;
}

value doctorJson(const std::vector<Finding>& findings) {
  auto array = value::array();
  size_t i = 0;
  for (const auto& finding : findings) {
    auto item = value::object(true);
    item["check"] = jsonString(finding.check);
    item["status"] = jsonString(finding.status);
    item["detail"] = jsonString(finding.detail);
    if (!finding.fix.empty()) item["fix"] = jsonString(finding.fix);
    array[i++] = item;
  }
  return array;
}

void printDoctor(const std::vector<Finding>& findings, std::ostream& out) {
  Table table({"STATUS", "CHECK", "DETAIL"});
  for (const auto& finding : findings) {
    std::string detail = finding.detail;
    if (!finding.fix.empty()) detail += "\nfix: " + finding.fix;
    std::string status = finding.status;
    for (auto& c : status) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    table.addRow({status, finding.check, detail});
  }
  table.print(out);
  size_t fails = 0, warns = 0;
  for (const auto& finding : findings) {
    fails += finding.status == "fail";
    warns += finding.status == "warn";
  }
  out << "\n" << findings.size() << " checks: " << fails << " failed, " << warns << " warnings\n";
}

void addDoctorCommand(CLI::App& app, int& exitCode) {
  struct Flags {
    std::string pinDir = maps::kDefaultPinDir;
    std::string nodePortRange = "30000-32767";
    std::string kubeconfig;
    std::vector<std::string> podDevices;
    std::string apiServer;
    std::string output = "table";
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("doctor",
                                 "Check the node for what bpfproxy needs; read-only (exit 0 nothing failed, 1 a check failed)");
  cmd->add_option("--pin-dir", flags->pinDir, "bpffs directory the agent pins to")->capture_default_str();
  cmd->add_option("--nodeport-range", flags->nodePortRange, "The cluster's NodePort range")->capture_default_str();
  cmd->add_option("--kubeconfig", flags->kubeconfig, "kubeconfig whose current context names the API server");
  cmd->add_option("--api-server", flags->apiServer, "API server URL or host:port (instead of --kubeconfig)");
  cmd->add_option("--pod-devices", flags->podDevices,
                  "As the agent's: with bypassing Pods configured, reading Pods is checked too")
      ->delimiter(',');
  addOutputFlag(*cmd, flags->output);
  cmd->callback([flags, &exitCode]() {
    std::vector<Finding> findings;
    for (const auto& feature : loader::probeKernelFeatures().features) {
      Finding f{"kernel: " + feature.name, feature.present ? "ok" : (feature.required ? "fail" : "warn"),
                feature.detail, ""};
      if (!feature.present)
        f.fix = feature.required ? "run a kernel that has it (see detail); bpfproxy cannot start without it"
                                 : "optional: without it the feature in the detail is unavailable";
      findings.push_back(f);
    }
    auto cgroup = loader::findCgroup2Mount();
    findings.push_back(cgroup ? Finding{"cgroup v2 mount", "ok", "mounted at " + *cgroup, ""}
                              : Finding{"cgroup v2 mount", "fail", "no cgroup2 filesystem in /proc/self/mountinfo",
                                        "mount -t cgroup2 none /sys/fs/cgroup (or boot with systemd.unified_cgroup_hierarchy=1)"});
    std::string bpffsAt = std::filesystem::path(flags->pinDir).parent_path().string();
    findings.push_back(loader::isOnBpffs(bpffsAt)
                           ? Finding{"bpffs mount", "ok", bpffsAt + " is a bpf filesystem", ""}
                           : Finding{"bpffs mount", "warn", bpffsAt + " is not a bpf filesystem: pins would not survive",
                                     "mount -t bpf bpf " + bpffsAt + " (the agent mounts it itself when it can)"});
    std::error_code ec;
    if (!std::filesystem::exists(maps::linksDir(flags->pinDir), ec)) {
      findings.push_back({"programs attached", "warn", "nothing pinned under " + flags->pinDir,
                          "start the agent (bpfproxy agent --pin-dir " + flags->pinDir + ")"});
    } else {
      for (const auto& program : loader::checkAttachments(flags->pinDir))
        findings.push_back(program.attached
                               ? Finding{"attached: " + program.program, "ok",
                                         program.ifindex ? "ifindex " + std::to_string(program.ifindex)
                                                         : "cgroup id " + std::to_string(program.cgroupId),
                                         ""}
                               : Finding{"attached: " + program.program, "fail", program.detail,
                                         "restart the agent: it re-attaches and updates its pinned links"});
    }
    for (auto& finding : checkPinnedMaps(flags->pinDir)) findings.push_back(std::move(finding));
    bool anyTool = false;
    auto leftovers = readKubeProxyLeftovers(anyTool);
    if (!anyTool) {
      findings.push_back({"leftover kube-proxy rules", "skip", "neither iptables-save nor nft is installed", ""});
    } else {
      findings.push_back(checkKubeProxyRules(leftovers));
    }
    auto dash = flags->nodePortRange.find('-');
    int low = 0, high = 0;
    try {
      low = std::stoi(flags->nodePortRange.substr(0, dash));
      high = dash == std::string::npos ? low : std::stoi(flags->nodePortRange.substr(dash + 1));
    } catch (const std::exception&) {
      low = high = 0;
    }
    if (low <= 0 || high > 65535 || low > high) {
      std::cerr << "bpfproxy: --nodeport-range: '" << flags->nodePortRange << "' is not like 30000-32767\n";
      exitCode = kExitUsage;
      return;
    }
    findings.push_back(checkPortRanges(readFile("/proc/sys/net/ipv4/ip_local_port_range"),
                                       readFile("/proc/sys/net/ipv4/ip_local_reserved_ports"),
                                       static_cast<uint16_t>(low), static_cast<uint16_t>(high)));
    std::string source;
    auto server = apiServerAddress(flags->apiServer, flags->kubeconfig, source);
    if (server.empty()) {
      findings.push_back({"API server reachable", "skip",
                          flags->kubeconfig.empty() ? "no --kubeconfig, --api-server or in-cluster environment"
                                                    : "no server in " + flags->kubeconfig + "'s current context",
                          ""});
    } else if (auto error = tcpReach(server); error.empty()) {
      findings.push_back({"API server reachable", "ok", server + " accepts connections (from " + source + ")", ""});
    } else {
      findings.push_back({"API server reachable", "fail", server + " (from " + source + "): " + error,
                          "check the address, routes and firewall between this node and the API server; the agent "
                          "needs it directly, not through a ClusterIP"});
    }
    // Each request the agent makes, asked of the API server for these credentials.
    if (!flags->kubeconfig.empty()) {
      try {
        auto cluster = controller::kube::loadKubeconfig(flags->kubeconfig, "");
        if (!flags->apiServer.empty()) cluster.servers = controller::kube::parseServerList(flags->apiServer);
        controller::kube::ApiClientOptions options;
        options.requestTimeout = std::chrono::seconds(5);
        controller::kube::ApiClient client(cluster, options);
        findings.push_back(checkApiPermissions(client, agentPermissions(!flags->podDevices.empty())));
      } catch (const std::exception& e) {
        findings.push_back({"API permissions", "fail", flags->kubeconfig + ": " + e.what(), "fix the kubeconfig"});
      }
    }
    if (!printStructured(doctorJson(findings), flags->output, std::cout)) printDoctor(findings, std::cout);
    bool failed = false;
    for (const auto& finding : findings) failed = failed || finding.status == "fail";
    exitCode = failed ? kExitFailure : kExitOk;
  });
}

}  // namespace bpfproxy::cli
