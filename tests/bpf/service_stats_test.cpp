// Per-Service, per-backend traffic (bpfproxy.io/metrics) through the real programs: the
// socket hooks in the XDP harness and the TC programs under BPF_PROG_TEST_RUN, the maps
// programmed by the production model and reconciler and read back as /metrics reads them.
#include <doctest/doctest.h>

#include <string>

#include "bpf/maps_abi.h"
#include "maps/service_traffic.h"
#include "tests/bpf/both_paths_datapath.h"
#include "tests/support/skip.h"
#include "tests/support/tc_test_namespace.h"

using namespace bpfproxy;
using namespace bpfproxy::modeltest;

namespace {

const IpAddress kNodeIp = ip("192.168.1.1");

struct Totals {
  uint64_t connections = 0, packets = 0, bytes = 0;
  size_t backends = 0;  // rows: one per backend that saw traffic
};

// `name`: 10.32.0.<octet>:80/TCP and :53/UDP, NodePort 30000+octet (TCP), two backends on node2.
void addService(Cluster& cluster, const std::string& name, int octet, bool counted) {
  Service service;
  service.meta.namespace_ = "default";
  service.meta.name = name;
  if (counted) service.meta.annotations["bpfproxy.io/metrics"] = "true";
  service.type = "NodePort";
  service.clusterIPs = {"10.32.0." + std::to_string(octet)};
  service.ports.push_back({"http", controller::Protocol::TCP, 80, 8080, "", static_cast<uint16_t>(30000 + octet)});
  service.ports.push_back({"dns", controller::Protocol::UDP, 53, 5353, "", 0});
  cluster.services[name] = service;
  EndpointSlice slice;
  slice.meta.namespace_ = "default";
  slice.meta.name = name + "-1";
  slice.meta.labels["kubernetes.io/service-name"] = name;
  slice.addressType = "IPv4";
  slice.ports.push_back({std::string("http"), controller::Protocol::TCP, uint16_t(8080)});
  slice.ports.push_back({std::string("dns"), controller::Protocol::UDP, uint16_t(5353)});
  for (int i = 1; i <= 2; ++i) {
    controller::Endpoint endpoint;
    endpoint.addresses = {"10.200.128." + std::to_string(octet + i)};
    endpoint.nodeName = "node2";
    slice.endpoints.push_back(endpoint);
  }
  cluster.slices[name + "-1"] = slice;
}

Totals totals(ChurnDatapath& datapath, const std::string& name, const std::string& path) {
  Totals sum;
  for (const auto& row : maps::readServiceTraffic(datapath.maps())) {
    if (row.name != name || row.path != path) continue;
    sum.connections += row.connections;
    sum.packets += row.packets;
    sum.bytes += row.bytes;
    sum.backends++;
  }
  return sum;
}

size_t rawEntries(ChurnDatapath& datapath) {
  size_t count = 0;
  datapath.maps().serviceStats.forEachKey([&](const bpx_svc_stats_key&) { return ++count, true; });
  return count;
}

Flow connect(int octet, uint64_t n) {
  Flow f;
  f.path = Path::kSocket;
  f.dst = ip(("10.32.0." + std::to_string(octet)).c_str());
  f.dport = 80;
  f.netns = 1000 + n;
  f.socket = 1 + n;
  return f;
}

Flow udpSend(int octet, uint64_t socket) {
  Flow f = connect(octet, socket);
  f.proto = BPX_PROTO_UDP;
  f.dport = 53;
  f.sendmsg = true;
  return f;
}

Flow nodePortPacket(int octet, uint16_t n) {
  Flow f;
  f.path = Path::kTcNode;
  f.src = ip("198.51.100.7");
  f.sport = static_cast<uint16_t>(20000 + n);
  f.dst = kNodeIp;
  f.dport = static_cast<uint16_t>(30000 + octet);
  return f;
}

void run(ChurnDatapath& datapath, const Flow& f) {
  auto observed = datapath.run(f);
  const bool translated = observed.outcome == Outcome::kTranslate;
  REQUIRE_MESSAGE(translated, f.toString() << ": " << observed.toString());
}

// An annotated Service "web" with traffic on both paths: `flows` connections and TC flows.
void countedWeb(ChurnDatapath& datapath, Cluster& cluster, uint16_t flows) {
  addService(cluster, "web", 50, true);
  REQUIRE(datapath.sync(cluster, "web").empty());
  for (uint16_t n = 0; n < flows; ++n) {
    run(datapath, connect(50, n));
    run(datapath, nodePortPacket(50, n));
  }
  REQUIRE(totals(datapath, "web", "socket").connections == flows);
  REQUIRE(totals(datapath, "web", "tc").connections == flows);
}

}  // namespace

TEST_CASE("service stats: an annotated Service is counted per backend on both paths, another one not at all") {
  BPX_SKIP_IF_NOT_EMPTY(testing::tcTestsUnavailable());
  ChurnDatapath datapath;
  Cluster cluster;
  addService(cluster, "web", 50, true);
  addService(cluster, "api", 60, false);
  REQUIRE(datapath.sync(cluster, "web").empty());
  REQUIRE(datapath.sync(cluster, "api").empty());

  for (uint64_t n = 0; n < 20; ++n) {
    run(datapath, connect(50, n));
    run(datapath, connect(60, n));
  }
  auto socket = totals(datapath, "web", "socket");
  CHECK(socket.connections == 20);
  CHECK(socket.backends == 2);  // random over two backends: both get some of 20 (1 in 500,000 fails)
  CHECK(socket.packets == 0);

  // Unconnected UDP: a socket's later datagrams go to the backend it has: one connection each.
  for (uint64_t socketId = 100; socketId < 103; ++socketId)
    for (int i = 0; i < 4; ++i) run(datapath, udpSend(50, socketId));
  CHECK(totals(datapath, "web", "socket").connections == 20 + 3);

  // TC: 10 flows of 3 packets each; connections are flows, packets and bytes every packet.
  for (int round = 0; round < 3; ++round)
    for (uint16_t n = 0; n < 10; ++n) {
      run(datapath, nodePortPacket(50, n));
      run(datapath, nodePortPacket(60, n));
    }
  auto tc = totals(datapath, "web", "tc");
  CHECK(tc.connections == 10);
  CHECK(tc.packets == 30);
  CHECK(tc.bytes >= 30 * 54);  // Ethernet, IPv4 and TCP headers at least
  CHECK(tc.bytes < 30 * 200);

  CHECK(totals(datapath, "api", "socket").connections == 0);
  CHECK(totals(datapath, "api", "tc").packets == 0);
  // Every entry is web's: one per (backend, path) of its ClusterIP TCP and UDP and its NodePort.
  auto rows = maps::readServiceTraffic(datapath.maps());
  for (const auto& row : rows) CHECK(row.name == "web");
  CHECK(rawEntries(datapath) == rows.size());
}

TEST_CASE("service stats: a released id's counters are cleared, and the Service that reuses it starts at zero") {
  BPX_SKIP_IF_NOT_EMPTY(testing::tcTestsUnavailable());
  ChurnDatapath datapath;
  Cluster cluster;
  countedWeb(datapath, cluster, 10);
  const controller::FrontendKey clusterIp{ip("10.32.0.50"), 80, BPX_PROTO_TCP};
  const auto webId = datapath.reconciler().serviceId(clusterIp);
  REQUIRE(webId);

  cluster.services.erase("web");
  cluster.slices.erase("web-1");
  REQUIRE(datapath.sync(cluster, "web").empty());
  CHECK(rawEntries(datapath) == 0);

  // The same ids (frontends and backends) go to another annotated Service.
  addService(cluster, "next", 50, true);
  REQUIRE(datapath.sync(cluster, "next").empty());
  CHECK(datapath.reconciler().serviceId(clusterIp) == webId);
  CHECK(rawEntries(datapath) == 0);
  run(datapath, connect(50, 1));
  run(datapath, nodePortPacket(50, 100));  // a new flow: web's flows are still in conntrack
  CHECK(totals(datapath, "next", "socket").connections == 1);
  CHECK(totals(datapath, "next", "tc").connections == 1);
  CHECK(totals(datapath, "next", "tc").packets == 1);
  CHECK(totals(datapath, "web", "socket").connections == 0);
}

TEST_CASE("service stats: dropping the annotation deletes the Service's counters and stops counting") {
  BPX_SKIP_IF_NOT_EMPTY(testing::tcTestsUnavailable());
  ChurnDatapath datapath;
  Cluster cluster;
  countedWeb(datapath, cluster, 5);
  cluster.services["web"].meta.annotations.erase("bpfproxy.io/metrics");
  REQUIRE(datapath.sync(cluster, "web").empty());
  CHECK(rawEntries(datapath) == 0);
  for (uint16_t n = 0; n < 5; ++n) {
    run(datapath, connect(50, n));
    run(datapath, nodePortPacket(50, 100 + n));
  }
  CHECK(rawEntries(datapath) == 0);
}
