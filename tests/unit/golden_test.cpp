// Golden files for what people and scripts read: tables and JSON of the inspection
// commands, from fixed inputs. Regenerate with UPDATE_GOLDEN=1 and review the diff.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cli/ops_views.h"
#include "cli/output.h"
#include "cli/service_view.h"

using namespace bpfproxy;
using namespace bpfproxy::cli;

namespace {

void checkGolden(const std::string& name, const std::string& actual) {
  std::string path = std::string(BPFPROXY_SOURCE_DIR) + "/tests/unit/testdata/golden/" + name;
  if (std::getenv("UPDATE_GOLDEN")) std::ofstream(path) << actual;
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "missing golden file " << path << " (run with UPDATE_GOLDEN=1)");
  std::stringstream expected;
  expected << in.rdbuf();
  CHECK(actual == expected.str());
}

maps::SnapshotFrontend frontend(const std::string& address, uint16_t port, uint8_t proto, uint32_t svcId,
                                const std::string& ns, const std::string& name, const std::string& portName,
                                uint8_t type, uint16_t flags, std::vector<uint32_t> backends) {
  maps::SnapshotFrontend f;
  std::memcpy(f.key.addr, IpAddress::parse(address)->bytes().data(), 16);
  f.key.port = htons(port);
  f.key.proto = proto;
  f.value.svc_id = svcId;
  f.value.generation = 1;
  f.value.backend_count = static_cast<uint16_t>(backends.size());
  f.value.flags = flags;
  bpx_svc_meta meta{};
  std::strncpy(meta.namespace_, ns.c_str(), sizeof(meta.namespace_) - 1);
  std::strncpy(meta.name, name.c_str(), sizeof(meta.name) - 1);
  std::strncpy(meta.port_name, portName.c_str(), sizeof(meta.port_name) - 1);
  meta.type = type;
  f.meta = meta;
  f.backendIds = std::move(backends);
  return f;
}

bpx_backend backend(const std::string& address, uint16_t port, uint8_t proto, uint8_t state, bool local) {
  bpx_backend b{};
  std::memcpy(b.addr, IpAddress::parse(address)->bytes().data(), 16);
  b.port = htons(port);
  b.proto = proto;
  b.state = state;
  b.flags = local ? BPX_BACKEND_F_LOCAL : 0;
  return b;
}

// The reference cluster: nginx with two pods, kube-dns, a Service without endpoints, and
// a terminating-only Service.
maps::DatapathSnapshot referenceSnapshot() {
  maps::DatapathSnapshot s;
  s.frontends.push_back(frontend("10.32.0.140", 80, BPX_PROTO_TCP, 4, "default", "nginx", "", BPX_SVC_TYPE_CLUSTER_IP,
                                 BPX_SVC_F_CLUSTER_IP, {2, 3}));
  s.frontends.push_back(frontend("10.32.0.140", 0, BPX_PROTO_ANY, 5, "default", "nginx", "", BPX_SVC_TYPE_CLUSTER_IP,
                                 BPX_SVC_F_WILDCARD, {}));
  s.frontends.push_back(frontend("10.32.0.10", 53, BPX_PROTO_UDP, 10, "kube-system", "kube-dns", "dns",
                                 BPX_SVC_TYPE_CLUSTER_IP, BPX_SVC_F_CLUSTER_IP, {7}));
  s.frontends.push_back(frontend("10.32.0.150", 80, BPX_PROTO_TCP, 12, "default", "empty", "", BPX_SVC_TYPE_CLUSTER_IP,
                                 BPX_SVC_F_CLUSTER_IP, {}));
  s.frontends.push_back(frontend("10.32.0.160", 443, BPX_PROTO_TCP, 14, "default", "draining", "https",
                                 BPX_SVC_TYPE_CLUSTER_IP, BPX_SVC_F_CLUSTER_IP | BPX_SVC_F_AFFINITY, {9}));
  s.frontends.back().value.affinity_timeout = 10800;
  s.backends[2] = backend("10.200.0.2", 80, BPX_PROTO_TCP, BPX_BACKEND_ACTIVE, true);
  s.backends[3] = backend("10.200.128.1", 80, BPX_PROTO_TCP, BPX_BACKEND_ACTIVE, false);
  s.backends[7] = backend("10.200.128.2", 53, BPX_PROTO_UDP, BPX_BACKEND_ACTIVE, false);
  s.backends[9] = backend("10.200.0.9", 8443, BPX_PROTO_TCP, BPX_BACKEND_TERMINATING, true);
  return s;
}

std::string explainText(const std::string& destination, const maps::DatapathSnapshot& snapshot,
                        const ExplainExtras& extras = {}) {
  FlowQuery query;
  query.source = *IpAddress::parse("10.200.0.10");
  REQUIRE(parseFlowDestination(destination, query.destination, query.port, query.proto));
  auto explanation = explainFlow(snapshot, query, extras);
  std::ostringstream out;
  printExplain(explanation, snapshot, out);
  out << "\n" << explainJson(explanation, snapshot).serialize() << "\n";
  return out.str();
}

}  // namespace

TEST_CASE("golden: service list table, JSON and YAML") {
  auto views = serviceViews(referenceSnapshot());
  std::ostringstream table;
  printServiceTable(views, table);
  checkGolden("service_list.txt", table.str());
  checkGolden("service_list.json", serviceJson(views).serialize() + "\n");
  checkGolden("service_list.yaml", toYaml(serviceJson(views)));
  // The contract scripts depend on: these keys, never renamed.
  auto json = serviceJson(views);
  for (const char* key : {"namespace", "name", "type", "frontend", "protocol", "backends"})
    CHECK(json[0].has_field(key));
  CHECK(json[0].at("backends")[0].has_field("address"));
  CHECK(json[0].at("backends")[0].has_field("state"));
}

TEST_CASE("golden: backend list") {
  auto views = backendViews(referenceSnapshot());
  std::ostringstream table;
  printBackendTable(views, table);
  checkGolden("backend_list.txt", table.str());
  checkGolden("backend_list.json", backendJson(views).serialize() + "\n");
}

TEST_CASE("golden: explain, one case per verdict") {
  auto snapshot = referenceSnapshot();
  checkGolden("explain_random.txt", explainText("10.32.0.140:80/tcp", snapshot));
  checkGolden("explain_single_udp.txt", explainText("10.32.0.10:53/UDP", snapshot));
  checkGolden("explain_no_endpoints.txt", explainText("10.32.0.150:80/tcp", snapshot));
  checkGolden("explain_no_port.txt", explainText("10.32.0.140:8080/tcp", snapshot));
  checkGolden("explain_not_a_service.txt", explainText("10.99.0.1:80/tcp", snapshot));
  checkGolden("explain_terminating.txt", explainText("10.32.0.160:443/tcp", snapshot));
  ExplainExtras outside;
  outside.sourceAllowed = [](uint32_t, const IpAddress&) { return std::optional<bool>(false); };
  checkGolden("explain_source_range.txt", explainText("10.32.0.140:80/tcp", snapshot, outside));
  ExplainExtras tracked;
  tracked.conntrack = {{"10.200.0.10:40000", 3, true}};
  FlowQuery query;
  query.source = *IpAddress::parse("10.200.0.10");
  query.sourcePort = 40000;
  REQUIRE(parseFlowDestination("10.32.0.140:80", query.destination, query.port, query.proto));
  auto explanation = explainFlow(snapshot, query, tracked);
  REQUIRE(explanation.picked);
  CHECK(*explanation.picked == 3);  // the conntrack entry decides
}

TEST_CASE("explain: destinations that parse and those that do not") {
  IpAddress address;
  uint16_t port = 0;
  uint8_t proto = 0;
  CHECK(parseFlowDestination("[fd00:32::140]:80/tcp", address, port, proto));
  CHECK(address.toString() == "fd00:32::140");
  CHECK(port == 80);
  CHECK(parseFlowDestination("10.32.0.10:53/udp", address, port, proto));
  CHECK(proto == BPX_PROTO_UDP);
  for (const char* bad : {"10.32.0.10", "10.32.0.10:0/tcp", "10.32.0.10:99999", "fd00::1:80", "10.32.0.10:53/icmp",
                          "name:80"})
    CHECK_MESSAGE(!parseFlowDestination(bad, address, port, proto), bad);
}

TEST_CASE("golden: capacity") {
  CapacityRequest request{1000, 200000, 2, true, false};
  auto plan = planCapacity(request, serviceMapShapes(65536, 262144), 4);
  std::ostringstream table;
  printCapacity(plan, table);
  checkGolden("capacity.txt", table.str());
  checkGolden("capacity.json", capacityJson(request, plan).serialize() + "\n");
  CHECK_FALSE(plan.fits);  // 400000 backends do not fit 262144
  CHECK(plan.notes.front().find("raise --max-backends") != std::string::npos);
  CapacityRequest small{10, 20, 1, false, false};
  auto fits = planCapacity(small, serviceMapShapes(65536, 262144), 4);
  CHECK(fits.fits);
  CHECK(fits.rows[0].needed == 20);  // 10 ports + 10 address-only entries
}

TEST_CASE("golden: doctor findings and the pure checks") {
  std::vector<Finding> findings = {
      {"kernel: cgroup_sock_addr", "ok", "socket hooks", ""},
      checkPortRanges("32768\t60999\n", "\n", 30000, 32767),
      checkPortRanges("20000\t60999\n", "\n", 30000, 32767),
      checkPortRanges("20000\t60999\n", "30000-32767\n", 30000, 32767),
      checkKubeProxyRules({{{"iptables-nft", "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n"
                                             ":KUBE-NODEPORTS - [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n"}},
                           {"ip kube-proxy"},
                           {"ip kube-proxy"},
                           0,
                           false}),
      checkKubeProxyRules({{{"iptables-nft", "*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n"}}, {}, {}, 0, false}),
  };
  CHECK(findings[1].status == "ok");
  CHECK(findings[2].status == "warn");
  CHECK(findings[2].fix.find("ip_local_reserved_ports=30000-32767") != std::string::npos);
  CHECK(findings[3].status == "ok");
  CHECK(findings[4].status == "warn");
  CHECK(findings[5].status == "ok");
  std::ostringstream table;
  printDoctor(findings, table);
  checkGolden("doctor.txt", table.str());
  checkGolden("doctor.json", doctorJson(findings).serialize() + "\n");
}

TEST_CASE("golden: status") {
  StatusInput input;
  input.pinDir = "/sys/fs/bpf/bpfproxy";
  for (const char* name : {"bpx_connect4", "bpx_sendmsg4", "bpx_recvmsg4", "bpx_getpeer4"}) {
    loader::ProgramAttachment program;
    program.program = name;
    program.hook = std::string(name).substr(4);
    program.pinned = program.attached = true;
    program.cgroupId = 1108;
    input.programs.push_back(program);
  }
  input.programs.back().attached = false;
  input.programs.back().detail = "link detached: its cgroup is gone or it was detached";
  input.maps = {{"bpx_svc_v2", "hash", 5, 65536, 6815744}, {"bpx_stats_v1", "percpu_array", std::nullopt, 32, 1280}};
  input.counters.assign(BPX_STAT_COUNT, 0);
  input.counters[BPX_STAT_CONNECT4] = 41;
  input.counters[BPX_STAT_DROP_NO_BACKEND] = 2;
  input.counters[BPX_STAT_TC_DROP_NO_LOCAL] = 3;  // the TC path's drops are shown too
  input.snapshot = referenceSnapshot();
  input.agent = AgentProbe{"127.0.0.1:10256", true, 503, ""};
  std::ostringstream table;
  printStatus(input, table);
  checkGolden("status.txt", table.str());
  checkGolden("status.json", statusJson(input).serialize() + "\n");
  CHECK_FALSE(statusHealthy(input));
  input.programs.back().attached = true;
  input.agent->healthzCode = 200;
  CHECK(statusHealthy(input));
}
