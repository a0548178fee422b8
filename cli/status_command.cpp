// `bpfproxy status`: what `cilium status` shows for its kube-proxy replacement, for ours.
#include <bpf/libbpf.h>
#include <cpprest/http_client.h>
#include <linux/bpf.h>

#include <algorithm>
#include <filesystem>

#include <iostream>
#include <map>
#include <memory>

#include "bpf/maps_abi.h"
#include "cli/commands.h"
#include "controller/model/lb_choice.h"
#include "cli/datapath_access.h"
#include "cli/ops_views.h"
#include "cli/output.h"
#include "cli/table.h"
#include "maps/map_names.h"
#include "maps/map_usage.h"
#include "maps/stat_names.h"

namespace bpfproxy::cli {

namespace {

using web::json::value;

struct Summary {
  size_t socketHooks = 0, socketAttached = 0, otherLinks = 0, otherAttached = 0;
  std::map<std::string, size_t> frontendsByType;
  size_t backends = 0, affinityFrontends = 0, localFrontends = 0, terminatingBackends = 0;
  bool udp = false, tcp = false;
  std::map<std::string, size_t> frontendsByAlgorithm;
  // "random", or each algorithm in use with its frontends: "maglev (2), random (5)".
  std::string selection() const {
    if (frontendsByAlgorithm.size() <= 1)
      return frontendsByAlgorithm.empty() ? "random" : frontendsByAlgorithm.begin()->first;
    std::string text;
    for (const auto& [name, count] : frontendsByAlgorithm)
      text += (text.empty() ? "" : ", ") + name + " (" + std::to_string(count) + ")";
    return text;
  }
};

Summary summarize(const StatusInput& input) {
  Summary s;
  for (const auto& program : input.programs) {
    bool socket = program.program.find("connect") != std::string::npos ||
                  program.program.find("sendmsg") != std::string::npos ||
                  program.program.find("recvmsg") != std::string::npos ||
                  program.program.find("getpeer") != std::string::npos;
    (socket ? s.socketHooks : s.otherLinks)++;
    if (program.attached) (socket ? s.socketAttached : s.otherAttached)++;
  }
  for (const auto& frontend : input.snapshot.frontends) {
    if (frontend.value.flags & BPX_SVC_F_WILDCARD) continue;
    s.frontendsByType[frontend.meta ? maps::frontendTypeName(frontend.meta->type) : "unknown"]++;
    if (frontend.value.flags & BPX_SVC_F_AFFINITY) s.affinityFrontends++;
    s.frontendsByAlgorithm[controller::lbAlgorithmName(frontend.value.algorithm)]++;
    if (frontend.value.flags & BPX_SVC_F_LOCAL) s.localFrontends++;
    if (frontend.key.proto == BPX_PROTO_UDP) s.udp = true;
    if (frontend.key.proto == BPX_PROTO_TCP) s.tcp = true;
  }
  s.backends = input.snapshot.backends.size();
  for (const auto& [id, backend] : input.snapshot.backends)
    if (backend.state == BPX_BACKEND_TERMINATING) s.terminatingBackends++;
  return s;
}

uint64_t stat(const StatusInput& input, uint32_t index) {
  return index < input.counters.size() ? input.counters[index] : 0;
}

std::string agentText(const StatusInput& input) {
  if (!input.agent) return "not asked (--healthz-address \"\")";
  if (!input.agent->reachable) return "not reachable at " + input.agent->address;
  return std::string(input.agent->healthzCode == 200 ? "healthy" : "unhealthy") + " (" + input.agent->address +
         "/healthz: " + std::to_string(input.agent->healthzCode) + ")";
}

}  // namespace

bool statusHealthy(const StatusInput& input) {
  auto s = summarize(input);
  if (s.socketHooks == 0 || s.socketAttached != s.socketHooks || s.otherAttached != s.otherLinks) return false;
  return !input.agent || (input.agent->reachable && input.agent->healthzCode == 200);
}

value statusJson(const StatusInput& input) {
  auto s = summarize(input);
  auto root = value::object(true);
  root["kubeProxyReplacement"] = value::boolean(s.socketHooks > 0 && s.socketAttached == s.socketHooks);
  root["pinDir"] = jsonString(input.pinDir);
  root["mapLayout"] = value::number(BPX_LAYOUT_VERSION);
  auto agent = value::object(true);
  if (input.agent) {
    agent["address"] = jsonString(input.agent->address);
    agent["reachable"] = value::boolean(input.agent->reachable);
    agent["healthzCode"] = value::number(input.agent->healthzCode);
  }
  agent["summary"] = jsonString(agentText(input));
  root["agent"] = agent;
  auto socketLb = value::object(true);
  socketLb["enabled"] = value::boolean(s.socketAttached > 0);
  socketLb["hooks"] = value::number(static_cast<uint64_t>(s.socketHooks));
  socketLb["attached"] = value::number(static_cast<uint64_t>(s.socketAttached));
  root["socketLB"] = socketLb;
  auto tc = value::object(true);
  tc["links"] = value::number(static_cast<uint64_t>(s.otherLinks));
  tc["attached"] = value::number(static_cast<uint64_t>(s.otherAttached));
  root["otherLinks"] = tc;
  auto services = value::object(true);
  for (const auto& [type, count] : s.frontendsByType) services[type] = value::number(static_cast<uint64_t>(count));
  root["frontends"] = services;
  root["backends"] = value::number(static_cast<uint64_t>(s.backends));
  root["backendSelection"] = jsonString(s.selection());
  root["sessionAffinityFrontends"] = value::number(static_cast<uint64_t>(s.affinityFrontends));
  root["gracefulTermination"] = value::boolean(true);
  auto programs = value::array();
  size_t i = 0;
  for (const auto& program : input.programs) {
    auto p = value::object(true);
    p["program"] = jsonString(program.program);
    p["hook"] = jsonString(program.hook);
    p["attached"] = value::boolean(program.attached);
    p["cgroupId"] = value::number(program.cgroupId);
    if (program.ifindex) p["ifindex"] = value::number(program.ifindex);
    if (!program.detail.empty()) p["detail"] = jsonString(program.detail);
    programs[i++] = p;
  }
  root["programs"] = programs;
  auto mapsJson = value::array();
  i = 0;
  for (const auto& map : input.maps) {
    auto m = value::object(true);
    m["name"] = jsonString(map.name);
    m["type"] = jsonString(map.type);
    if (map.entries) m["entries"] = value::number(*map.entries);
    m["capacity"] = value::number(map.capacity);
    m["bytesWhenFull"] = value::number(map.bytesWhenFull);
    mapsJson[i++] = m;
  }
  root["maps"] = mapsJson;
  auto counters = value::object(true);
  counters["connect"] = value::number(stat(input, BPX_STAT_CONNECT4) + stat(input, BPX_STAT_CONNECT6));
  counters["sendmsg"] = value::number(stat(input, BPX_STAT_SENDMSG4) + stat(input, BPX_STAT_SENDMSG6));
  counters["recvmsg"] = value::number(stat(input, BPX_STAT_RECVMSG4) + stat(input, BPX_STAT_RECVMSG6));
  counters["getpeername"] = value::number(stat(input, BPX_STAT_GETPEERNAME4) + stat(input, BPX_STAT_GETPEERNAME6));
  counters["dropNoBackend"] = value::number(stat(input, BPX_STAT_DROP_NO_BACKEND));
  counters["dropNoPort"] = value::number(stat(input, BPX_STAT_DROP_NO_PORT));
  counters["dropStale"] = value::number(stat(input, BPX_STAT_DROP_STALE));
  auto drops = value::object(true);
  for (const auto& counter : maps::dropCounters()) drops[counter.reason] = value::number(stat(input, counter.index));
  counters["drops"] = drops;
  root["counters"] = counters;
  root["healthy"] = value::boolean(statusHealthy(input));
  return root;
}

void printStatus(const StatusInput& input, std::ostream& out) {
  auto s = summarize(input);
  auto line = [&](const std::string& key, const std::string& text) {
    if (text.empty()) out << key << "\n";
    else out << key << std::string(key.size() < 26 ? 26 - key.size() : 1, ' ') << text << "\n";
  };
  bool kpr = s.socketHooks > 0 && s.socketAttached == s.socketHooks;
  line("KubeProxyReplacement:", kpr ? "True" : "False");
  line("Pin directory:", input.pinDir + " (map layout v" + std::to_string(BPX_LAYOUT_VERSION) + ")");
  line("Agent:", agentText(input));
  line("KubeProxyReplacement Details:", "");
  line("  Socket LB:", std::string(s.socketAttached ? "Enabled" : "Disabled") + " (" +
                       std::to_string(s.socketAttached) + "/" + std::to_string(s.socketHooks) + " hooks attached)");
  std::string protocols = std::string(s.tcp ? "TCP" : "") + (s.tcp && s.udp ? ", " : "") + (s.udp ? "UDP" : "");
  line("  Socket LB Protocols:", protocols.empty() ? "none programmed" : protocols);
  line("  Other links:", s.otherLinks ? std::to_string(s.otherAttached) + "/" + std::to_string(s.otherLinks) +
                                           " attached (TC, post-bind)"
                                     : "none pinned");
  line("  Backend Selection:", s.selection());
  line("  Session Affinity:", s.affinityFrontends ? "Enabled (" + std::to_string(s.affinityFrontends) + " frontends)"
                                                 : "Enabled (no frontend asks for it)");
  line("  Graceful Termination:", "Enabled (" + std::to_string(s.terminatingBackends) + " terminating backends in use)");
  for (const char* type : {"ClusterIP", "NodePort", "LoadBalancer", "ExternalIP"}) {
    auto it = s.frontendsByType.find(type);
    size_t count = it == s.frontendsByType.end() ? 0 : it->second;
    line(std::string("  - ") + type + ":", std::to_string(count) + " frontends");
  }
  line("  Backends:", std::to_string(s.backends));
  line("  Translations:", "connect " + std::to_string(stat(input, BPX_STAT_CONNECT4) + stat(input, BPX_STAT_CONNECT6)) +
                              ", sendmsg " + std::to_string(stat(input, BPX_STAT_SENDMSG4) + stat(input, BPX_STAT_SENDMSG6)) +
                              ", recvmsg " + std::to_string(stat(input, BPX_STAT_RECVMSG4) + stat(input, BPX_STAT_RECVMSG6)) +
                              ", getpeername " +
                              std::to_string(stat(input, BPX_STAT_GETPEERNAME4) + stat(input, BPX_STAT_GETPEERNAME6)));
  // Every drop and refusal counter of both paths, as bpfproxy_drops_total{reason} has them.
  uint64_t dropped = 0;
  for (const auto& counter : maps::dropCounters()) dropped += stat(input, counter.index);
  line("  Dropped or refused:", std::to_string(dropped));
  for (const auto& counter : maps::dropCounters())
    line("    " + counter.reason + ":", std::to_string(stat(input, counter.index)) + "  (" + counter.help + ")");
  out << "\n";
  Table hooks({"PROGRAM", "HOOK", "ATTACHED", "WHERE"});
  for (const auto& program : input.programs)
    hooks.addRow({program.program, program.hook, program.attached ? "yes" : "NO",
                  program.attached ? (program.ifindex ? "ifindex " + std::to_string(program.ifindex)
                                                      : "cgroup id " + std::to_string(program.cgroupId))
                                   : program.detail});
  hooks.print(out);
  out << "\n";
  Table mapsTable({"MAP", "TYPE", "ENTRIES", "CAPACITY", "USED", "MEMORY WHEN FULL"});
  for (const auto& map : input.maps) {
    std::string used = "-";
    if (map.entries && map.capacity)
      used = std::to_string(static_cast<unsigned>(100.0 * *map.entries / map.capacity + 0.5)) + "%";
    mapsTable.addRow({map.name, map.type, map.entries ? std::to_string(*map.entries) : "-",
                      std::to_string(map.capacity), used,
                      std::to_string((map.bytesWhenFull + 1023) / 1024) + " KiB"});
  }
  mapsTable.print(out);
}

void addStatusCommand(CLI::App& app, int& exitCode) {
  struct Flags {
    std::string pinDir = maps::kDefaultPinDir;
    std::string healthzAddress = "127.0.0.1:10256";
    std::string output = "table";
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("status",
                                 "Summary of the kube-proxy replacement: hooks, services, maps, counters, agent health "
                                 "(exit 0 healthy, 1 degraded, 3 nothing pinned)");
  cmd->add_option("--pin-dir", flags->pinDir, "bpffs directory the agent pins to")->capture_default_str();
  cmd->add_option("--healthz-address", flags->healthzAddress,
                  "Where the agent's health server answers (empty: do not ask)")
      ->capture_default_str();
  addOutputFlag(*cmd, flags->output);
  cmd->callback([flags, &exitCode]() {
    maps::DatapathMaps datapath;
    if (!openDatapath(flags->pinDir, datapath, exitCode)) return;
    StatusInput input;
    input.pinDir = flags->pinDir;
    input.programs = loader::checkAttachments(flags->pinDir);
    input.counters = datapath.readCounters();
    input.snapshot = maps::readSnapshot(datapath);
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(maps::mapsDir(flags->pinDir), ec))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      auto map = maps::MapFd::openPinned(maps::mapPinPath(flags->pinDir, name));
      maps::MapFd::Info info;
      if (!map || map->info(info) != 0) continue;
      MapStatus status{name, maps::mapTypeName(info.type), std::nullopt, info.maxEntries,
                       maps::estimateMapBytes(info.type, info.keySize, info.valueSize, info.maxEntries,
                                              static_cast<unsigned>(libbpf_num_possible_cpus()))};
      if (info.type != BPF_MAP_TYPE_ARRAY && info.type != BPF_MAP_TYPE_PERCPU_ARRAY)
        status.entries = maps::countEntries(*map);
      input.maps.push_back(status);
    }
    if (!flags->healthzAddress.empty()) {
      AgentProbe probe;
      probe.address = flags->healthzAddress;
      try {
        web::http::client::http_client_config config;
        config.set_timeout(std::chrono::seconds(2));
        web::http::client::http_client client("http://" + flags->healthzAddress, config);
        auto response = client.request(web::http::methods::GET, "/healthz").get();
        probe.reachable = true;
        probe.healthzCode = response.status_code();
        probe.body = response.extract_string().get();
      } catch (const std::exception&) {
        probe.reachable = false;
      }
      input.agent = probe;
    }
    if (!printStructured(statusJson(input), flags->output, std::cout)) printStatus(input, std::cout);
    exitCode = statusHealthy(input) ? kExitOk : kExitFailure;
  });
}

}  // namespace bpfproxy::cli
