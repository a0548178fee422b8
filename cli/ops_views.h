#pragma once
// The views behind `status`, `capacity`, `doctor` and `explain`: built from plain inputs
// (so golden tests feed them fixed data), printed as aligned tables or as JSON/YAML.
#include <cpprest/json.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "loader/attach_check.h"
#include "maps/datapath_snapshot.h"
#include "maps/map_types.h"

namespace bpfproxy::cli {

// ---- status ---------------------------------------------------------------------------
struct MapStatus {
  std::string name, type;
  std::optional<uint64_t> entries;  // none for arrays (always full)
  uint64_t capacity = 0;
  uint64_t bytesWhenFull = 0;
};

struct AgentProbe {
  std::string address;  // host:port of the health server
  bool reachable = false;
  int healthzCode = 0;
  std::string body;
};

struct StatusInput {
  std::string pinDir;
  std::vector<loader::ProgramAttachment> programs;
  std::vector<MapStatus> maps;
  std::vector<uint64_t> counters;  // BPX_STAT_*, summed over CPUs
  maps::DatapathSnapshot snapshot;
  std::optional<AgentProbe> agent;
};

web::json::value statusJson(const StatusInput& input);
void printStatus(const StatusInput& input, std::ostream& out);
bool statusHealthy(const StatusInput& input);  // every hook attached, agent (if asked) healthy

// ---- capacity -------------------------------------------------------------------------
struct CapacityRequest {
  uint64_t services = 0;   // Services
  uint64_t endpoints = 0;  // endpoints over all Services
  uint64_t portsPerService = 1;
  bool dualStack = false;
  bool nodePorts = false;  // every port also a NodePort
};

struct MapShape {
  std::string name;
  unsigned type = 0, keySize = 0, valueSize = 0;
  uint64_t maxEntries = 0;
};

struct CapacityRow {
  std::string map;
  uint64_t needed = 0, capacity = 0;
  uint64_t bytesNeeded = 0, bytesWhenFull = 0;
  bool fits = true;
};

struct CapacityPlan {
  std::vector<CapacityRow> rows;
  bool fits = true;
  uint64_t bytesNeeded = 0, bytesWhenFull = 0;
  std::vector<std::string> notes;  // what to raise, warnings at 80%
};

// The maps the service load balancer needs, sized as the agent would size them.
std::vector<MapShape> serviceMapShapes(uint32_t maxServices, uint32_t maxBackends);
CapacityPlan planCapacity(const CapacityRequest& request, const std::vector<MapShape>& shapes, unsigned cpus);
web::json::value capacityJson(const CapacityRequest& request, const CapacityPlan& plan);
void printCapacity(const CapacityPlan& plan, std::ostream& out);

// ---- doctor ---------------------------------------------------------------------------
struct Finding {
  std::string check;   // "kernel: cgroup_sock_addr"
  std::string status;  // "ok", "warn", "fail", "skip"
  std::string detail;
  std::string fix;     // what to do, when not ok
};

web::json::value doctorJson(const std::vector<Finding>& findings);
void printDoctor(const std::vector<Finding>& findings, std::ostream& out);

// Pure checks, so tests feed them file contents.
Finding checkPortRanges(const std::string& localPortRange, const std::string& reservedPorts, uint16_t nodePortMin,
                        uint16_t nodePortMax);
// What kube-proxy may have left on the node, as doctor reads it.
struct KubeProxyLeftovers {
  std::vector<std::pair<std::string, std::string>> iptables;  // (back end, e.g. "iptables-nft", its -save dump)
  std::vector<std::string> nftTables;                          // kube-proxy's nftables tables, "ip kube-proxy"
  std::vector<std::string> hookedNftTables;                    // those of them with a base chain
  size_t ipvsServers = 0;                                      // virtual servers in /proc/net/ip_vs
  bool ipvsDevice = false;                                     // kube-ipvs0 (holds the ClusterIPs as local)
};
// Warns only about what still changes packets: a chain nothing jumps to, a table without a
// hook, change none, and are only named.
Finding checkKubeProxyRules(const KubeProxyLeftovers& state);
// One finding per map of the table: pinned under pinDir, and of this build's kind and layout.
std::vector<Finding> checkPinnedMaps(const std::string& pinDir);

// ---- explain --------------------------------------------------------------------------
struct FlowQuery {
  IpAddress source;
  IpAddress destination;
  uint16_t port = 0;
  uint8_t proto = BPX_PROTO_TCP;
  std::optional<uint16_t> sourcePort;
};

struct ExplainStage {
  std::string name;     // "programmed", "state", "traffic policy", "source ranges"
  std::string detail;
  std::vector<uint32_t> backends;  // ids left after this stage
};

struct ConntrackHit {
  std::string client;  // ip:port
  uint32_t backendId = 0;
  bool current = false;  // the backend is still in the frontend's set
};

struct Explanation {
  std::string verdict;  // "translated", "refused", "not a service", "dropped"
  std::string reason;   // for refused/dropped: the drop counter's reason
  std::optional<maps::SnapshotFrontend> frontend;
  std::string frontendText;  // "10.32.0.140:80/TCP"
  std::vector<std::string> frontendFlags;
  std::vector<ExplainStage> stages;
  std::string algorithm;
  std::optional<uint32_t> picked;  // when the choice is determined
  std::string pickDetail;
  std::vector<ConntrackHit> conntrack;  // flows of this client to this frontend
  size_t udpStickySockets = 0;          // sockets with a sticky backend for this service
  std::vector<std::string> notes;
};

// Optional datapath state explain consults besides the snapshot.
struct ExplainExtras {
  // Source-range verdict for (svc_id, source): nullopt when the frontend has no ranges.
  std::function<std::optional<bool>(uint32_t svcId, const IpAddress& source)> sourceAllowed;
  std::vector<ConntrackHit> conntrack;  // already filtered to this client and frontend
  size_t udpStickySockets = 0;
  bool nodeAddress = false;  // the destination is one of this node's NodePort addresses
  bool serviceCidr = false;  // the destination is inside a service CIDR
};
// What explain reads from the TC maps (bpx_lpm, bpx_nodeaddr) for a query, the way the
// datapath looks them up; an invalid map is skipped. The result refers to lpm and snapshot.
ExplainExtras readExplainExtras(const maps::LpmMap& lpm, const maps::NodeAddrMap& nodeAddrs,
                                const maps::DatapathSnapshot& snapshot, const FlowQuery& query);

Explanation explainFlow(const maps::DatapathSnapshot& snapshot, const FlowQuery& query, const ExplainExtras& extras);
web::json::value explainJson(const Explanation& explanation, const maps::DatapathSnapshot& snapshot);
void printExplain(const Explanation& explanation, const maps::DatapathSnapshot& snapshot, std::ostream& out);
// "10.32.0.140:80/TCP", "[fd00::1]:53/udp": false when malformed.
bool parseFlowDestination(const std::string& text, IpAddress& address, uint16_t& port, uint8_t& proto);

// ---- the subcommands ------------------------------------------------------------------
inline constexpr int kExitNotAService = 4;  // explain: the destination is no frontend

// Registers status, capacity, doctor, explain, conntrack, affinity and maglev.
void addOperabilityCommands(CLI::App& app, int& exitCode);
void addStatusCommand(CLI::App& app, int& exitCode);
void addCapacityCommand(CLI::App& app, int& exitCode);
void addDoctorCommand(CLI::App& app, int& exitCode);
void addExplainCommand(CLI::App& app, int& exitCode);
void addDatapathCommands(CLI::App& app, int& exitCode);  // conntrack, affinity, maglev

}  // namespace bpfproxy::cli
