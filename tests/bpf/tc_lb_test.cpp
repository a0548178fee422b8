// The TC programs under BPF_PROG_TEST_RUN: crafted IPv4/IPv6 TCP, UDP and ICMP frames
// in, the rewritten frames and verdicts out, checksums verified by recomputing them. Maps
// are filled by the production reconciler and TcMapState, in the namespace of
// tests/support/tc_test_namespace.h.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <doctest/doctest.h>
#include <linux/pkt_cls.h>
#include <net/if.h>

#include <memory>
#include <set>

#include "controller/sync/reconciler.h"
#include "controller/node/tc_state.h"
#include "loader/socket_lb_loader.h"
#include "loader/tc_loader.h"
#include "maps/conntrack_reader.h"
#include "maps/datapath_maps.h"
#include "maps/bpf_datapath_writer.h"
#include "maps/map_names.h"
#include "maps/snapshot_reader.h"
#include "maps/tc_maps.h"
#include "sock_lb_harness.skel.h"
#include "tests/bpf/sock_lb_harness.h"
#include "tests/support/packet_builder.h"
#include "tests/support/frontend_specs.h"
#include "tests/support/require_ok.h"
#include "tests/support/skip.h"
#include "tests/support/tc_datapath_fixture.h"
#include "tests/support/tc_test_namespace.h"
#include "tests/support/test_bpffs.h"

using namespace bpfproxy;
using controller::BackendSpec;
using controller::FrontendSpec;
using testing::buildPacket;
using testing::decodePacket;
using testing::PacketSpec;
using testing::fragmentFrame;
using testing::reassembleFrames;

namespace {

using testing::ip;

using testing::kClientMac;
using testing::kNode2Mac;
using testing::kPodMac;

// Why the TC tests cannot run here, or "". Inside a test case only: it makes the namespace.
std::string tcUnavailable() { return testing::tcTestsUnavailable(); }

std::string verdictName(int verdict) {
  switch (verdict) {
    case TC_ACT_OK: return "TC_ACT_OK";
    case TC_ACT_SHOT: return "TC_ACT_SHOT";
    case TC_ACT_REDIRECT: return "TC_ACT_REDIRECT";
  }
  return "verdict " + std::to_string(verdict);
}

BackendSpec backend(const char* address, uint16_t port, uint8_t proto, bool local) {
  return testing::backendSpec(address, port, proto, local);
}

const auto frontend = testing::frontendSpec;
const auto wildcard = testing::wildcardSpec;

struct Result {
  int verdict = -1;
  std::vector<uint8_t> frame;
  testing::DecodedPacket packet;
  std::string verdictName() const { return ::verdictName(verdict); }
};

struct Harness : testing::TcDatapathFixture {
  explicit Harness(controller::TcSettings settings = {}) {
    loader::MapSizes sizes;
    sizes.clientAffinity = 1024;
    sizes.conntrack = 1024;
    auto error = open(sizes, 1024, 4096);
    REQUIRE_MESSAGE(error.empty(), error);
    auto written = state->setNode(settings,
                                  {{ip("192.168.1.1"), eth0, true}, {ip("fd00:1::1"), eth0, true}},
                                  {*Cidr::parse("10.32.0.0/24"), *Cidr::parse("fd00:32::/108")});
    REQUIRE_OK(written);
  }

  void program(const char* name, std::vector<FrontendSpec> frontends) {
    auto result = reconciler->apply({"default", name}, frontends);
    REQUIRE(result.errors.empty());
  }

  Result run(loader::TcProgram program, const std::vector<uint8_t>& in, int ifindex = 0) {
    testing::TcRun run;
    REQUIRE_MESSAGE(TcDatapathFixture::run(program, in, run, ifindex), "test run failed: " << std::strerror(errno));
    Result result;
    result.verdict = run.verdict;
    result.frame = std::move(run.frame);
    auto decoded = decodePacket(result.frame);
    REQUIRE(decoded);
    result.packet = *decoded;
    return result;
  }
  Result fromDevice(const PacketSpec& spec) { return run(loader::TcProgram::kFromDevice, buildPacket(spec)); }
  Result toDevice(const PacketSpec& spec) { return run(loader::TcProgram::kToDevice, buildPacket(spec)); }
  Result fromPod(const PacketSpec& spec) { return run(loader::TcProgram::kFromPod, buildPacket(spec), br0); }
  Result toPod(const PacketSpec& spec) { return run(loader::TcProgram::kToPod, buildPacket(spec), br0); }

  uint64_t counter(uint32_t index) { return maps.readCounter(index); }
};

PacketSpec packet(const char* src, uint16_t sport, const char* dst, uint16_t dport, uint8_t proto,
                  uint8_t flags = testing::kTcpSyn) {
  return testing::flowPacket(src, sport, dst, dport, proto, flags);
}

constexpr uint16_t kNodePortFlags = BPX_SVC_F_NODEPORT;
constexpr uint16_t kLocal = BPX_SVC_F_LOCAL;

}  // namespace

TEST_CASE("NodePort, Cluster policy, remote backend: DNAT+SNAT out, replies back") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  Harness h;
  h.program("web", {frontend("0.0.0.0", 30080, BPX_PROTO_TCP, kNodePortFlags,
                             {backend("10.200.128.1", 80, BPX_PROTO_TCP, false)}),
                    frontend("::", 30080, BPX_PROTO_UDP, kNodePortFlags,
                             {backend("fd00:200:2::5", 53, BPX_PROTO_UDP, false)})});
  struct Case {
    const char* description;
    PacketSpec in;
    const char* backend;
    const char* snatAddress;
  };
  const Case cases[] = {
      {"IPv4 TCP SYN to nodeIP:nodePort", packet("192.168.1.100", 40000, "192.168.1.1", 30080, BPX_PROTO_TCP),
       "10.200.128.1:80", "192.168.1.1"},
      {"IPv6 UDP to [nodeIP]:nodePort", packet("fd00:1::100", 40001, "fd00:1::1", 30080, BPX_PROTO_UDP),
       "[fd00:200:2::5]:53", "fd00:1::1"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    auto out = h.fromDevice(c.in);
    CHECK(out.verdictName() == "TC_ACT_REDIRECT");
    CHECK(out.packet.checksumsValid);
    CHECK(out.packet.checksumError == "");
    CHECK(out.packet.endpointDst() == c.backend);
    CHECK(out.packet.src.toString() == c.snatAddress);
    CHECK(out.packet.sport == c.in.sport);  // the client's port is kept, as netfilter's NAT does
    CHECK(out.packet.dstMac == kNode2Mac);  // via node2, found by the FIB lookup

    // The backend answers the node's SNAT address; the client sees the NodePort answer.
    PacketSpec reply = c.in;
    reply.src = out.packet.dst;
    reply.sport = out.packet.dport;
    reply.dst = out.packet.src;
    reply.dport = out.packet.sport;
    reply.tcpFlags = testing::kTcpSyn | testing::kTcpAck;
    auto back = h.fromDevice(reply);
    CHECK(back.verdictName() == "TC_ACT_REDIRECT");
    CHECK(back.packet.checksumsValid);
    CHECK(back.packet.endpointSrc() == formatEndpoint(c.in.dst, c.in.dport));
    CHECK(back.packet.endpointDst() == formatEndpoint(c.in.src, c.in.sport));
    CHECK(back.packet.dstMac == kClientMac);

    // The same flow keeps its backend and SNAT port.
    auto again = h.fromDevice(c.in);
    CHECK(again.packet.endpointSrc() == out.packet.endpointSrc());
  }
  CHECK(h.counter(BPX_STAT_TC_NODEPORT) == 2);
  CHECK(h.counter(BPX_STAT_TC_SNAT) == 2);
  CHECK(h.counter(BPX_STAT_TC_REVNAT) == 2);
}

// Each direction's addresses and ports are patched with one checksum update per checksum:
// here all four change at once (the client's port is taken, so the SNAT port comes from the
// range), and a UDP datagram sent without a checksum (0 over IPv4) keeps none.
TEST_CASE("NodePort SNAT: both addresses and both ports rewritten at once, a UDP checksum of 0 stays 0") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  controller::TcSettings settings;
  settings.snatPortMin = 61000;
  settings.snatPortMax = 61009;
  Harness h(settings);
  h.program("web", {frontend("0.0.0.0", 30080, BPX_PROTO_TCP, kNodePortFlags,
                             {backend("10.200.128.1", 80, BPX_PROTO_TCP, false)}),
                    frontend("0.0.0.0", 30053, BPX_PROTO_UDP, kNodePortFlags,
                             {backend("10.200.128.1", 53, BPX_PROTO_UDP, false)})});
  // A UDP checksum lies 6 bytes into the UDP header, after Ethernet and a 20-byte IPv4 header.
  constexpr size_t kUdpCheck = 14 + 20 + 6;
  auto withoutUdpChecksum = [](std::vector<uint8_t> frame) {
    frame[kUdpCheck] = frame[kUdpCheck + 1] = 0;
    return frame;
  };
  for (uint8_t proto : {BPX_PROTO_TCP, BPX_PROTO_UDP}) {
    for (bool zeroChecksum : {false, true}) {
      if (zeroChecksum && proto != BPX_PROTO_UDP) continue;
      CAPTURE(int(proto));
      CAPTURE(zeroChecksum);
      const uint16_t nodePort = proto == BPX_PROTO_TCP ? 30080 : 30053;
      const uint16_t sport = zeroChecksum ? 40001 : 40000;
      // The first client keeps its port; the second, with the same port, gets one of the range.
      auto first = h.fromDevice(packet("192.168.1.100", sport, "192.168.1.1", nodePort, proto));
      REQUIRE(first.verdictName() == "TC_ACT_REDIRECT");
      REQUIRE(first.packet.sport == sport);
      auto in = buildPacket(packet("192.168.1.101", sport, "192.168.1.1", nodePort, proto));
      if (zeroChecksum) in = withoutUdpChecksum(in);
      auto out = h.run(loader::TcProgram::kFromDevice, in);
      REQUIRE(out.verdictName() == "TC_ACT_REDIRECT");
      CHECK(out.packet.checksumsValid);
      CHECK(out.packet.checksumError == "");
      CHECK(out.packet.src.toString() == "192.168.1.1");
      CHECK(out.packet.sport >= 61000);
      CHECK(out.packet.sport <= 61009);
      CHECK(out.packet.dst.toString() == "10.200.128.1");
      CHECK(out.packet.dport == (proto == BPX_PROTO_TCP ? 80 : 53));
      if (zeroChecksum) {
        CHECK(out.frame[kUdpCheck] == 0);
        CHECK(out.frame[kUdpCheck + 1] == 0);
      }

      // The reply, all four fields back, the same way.
      PacketSpec reply = packet("10.200.128.1", out.packet.dport, "192.168.1.1", out.packet.sport, proto,
                                testing::kTcpSyn | testing::kTcpAck);
      auto replyFrame = buildPacket(reply);
      if (zeroChecksum) replyFrame = withoutUdpChecksum(replyFrame);
      auto back = h.run(loader::TcProgram::kFromDevice, replyFrame);
      REQUIRE(back.verdictName() == "TC_ACT_REDIRECT");
      CHECK(back.packet.checksumsValid);
      CHECK(back.packet.checksumError == "");
      CHECK(back.packet.endpointSrc() == "192.168.1.1:" + std::to_string(nodePort));
      CHECK(back.packet.endpointDst() == "192.168.1.101:" + std::to_string(sport));
      if (zeroChecksum) {
        CHECK(back.frame[kUdpCheck] == 0);
        CHECK(back.frame[kUdpCheck + 1] == 0);
      }
    }
  }
}

TEST_CASE("NodePort, Local policy: client address kept, egress reverse-translates, none local drops") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  Harness h;
  h.program("local", {frontend("0.0.0.0", 30081, BPX_PROTO_TCP, kNodePortFlags | kLocal,
                               {backend("10.200.0.2", 8080, BPX_PROTO_TCP, true)})});
  h.program("nolocal", {frontend("0.0.0.0", 30082, BPX_PROTO_UDP, kNodePortFlags | kLocal, {})});

  auto in = h.fromDevice(packet("192.168.1.100", 40000, "192.168.1.1", 30081, BPX_PROTO_TCP));
  CHECK(in.verdictName() == "TC_ACT_OK");
  CHECK(in.packet.checksumsValid);
  CHECK(in.packet.endpointSrc() == "192.168.1.100:40000");
  CHECK(in.packet.endpointDst() == "10.200.0.2:8080");

  auto out = h.toDevice(packet("10.200.0.2", 8080, "192.168.1.100", 40000, BPX_PROTO_TCP,
                               testing::kTcpSyn | testing::kTcpAck));
  CHECK(out.verdictName() == "TC_ACT_OK");
  CHECK(out.packet.checksumsValid);
  CHECK(out.packet.endpointSrc() == "192.168.1.1:30081");
  CHECK(out.packet.endpointDst() == "192.168.1.100:40000");

  auto dropped = h.fromDevice(packet("192.168.1.100", 40000, "192.168.1.1", 30082, BPX_PROTO_UDP));
  CHECK(dropped.verdictName() == "TC_ACT_SHOT");
  CHECK(h.counter(BPX_STAT_TC_DROP_NO_LOCAL) == 1);
}

TEST_CASE("refusals from outside, by reason") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  Harness h;
  h.program("nginx", {frontend("10.32.0.140", 80, BPX_PROTO_TCP, BPX_SVC_F_CLUSTER_IP,
                               {backend("10.200.0.2", 80, BPX_PROTO_TCP, true)}),
                      wildcard("10.32.0.140")});
  h.program("ext", {frontend("203.0.113.7", 80, BPX_PROTO_TCP, BPX_SVC_F_EXTERNAL_IP,
                             {backend("10.200.0.2", 80, BPX_PROTO_TCP, true)})});

  SUBCASE("a ClusterIP is not reachable from outside") {
    auto out = h.fromDevice(packet("192.168.1.100", 40000, "10.32.0.140", 80, BPX_PROTO_TCP));
    CHECK(out.verdictName() == "TC_ACT_SHOT");
    CHECK(h.counter(BPX_STAT_TC_DROP_EXT_CLUSTER_IP) == 1);
  }
  SUBCASE("an undefined port of a ClusterIP gets a TCP RST") {
    auto spec = packet("192.168.1.100", 40000, "10.32.0.140", 8080, BPX_PROTO_TCP);
    auto out = h.fromDevice(spec);
    CHECK(out.verdictName() == "TC_ACT_REDIRECT");  // back out of eth0
    CHECK(out.packet.checksumsValid);
    CHECK(out.packet.tcpFlags == (testing::kTcpRst | testing::kTcpAck));
    CHECK(out.packet.ack == spec.seq + 1);
    CHECK(out.packet.endpointSrc() == "10.32.0.140:8080");
    CHECK(out.packet.endpointDst() == "192.168.1.100:40000");
    CHECK(out.packet.dstMac == spec.srcMac);
    CHECK(h.counter(BPX_STAT_TC_REJECT_NO_PORT) == 1);
  }
  SUBCASE("UDP to an unallocated service-CIDR address gets an ICMP port unreachable") {
    auto spec = packet("192.168.1.100", 40000, "10.32.0.99", 53, BPX_PROTO_UDP);
    auto out = h.fromDevice(spec);
    CHECK(out.verdictName() == "TC_ACT_REDIRECT");
    CHECK(out.packet.proto == 1);
    CHECK(out.packet.sport == 3);  // type: destination unreachable
    CHECK(out.packet.dport == 3);  // code: port unreachable
    CHECK(out.packet.checksumsValid);
    CHECK(out.packet.src.toString() == "10.32.0.99");
    REQUIRE(out.packet.quoted);
    auto quoted = testing::decodeIpPacket(*out.packet.quoted, false);
    REQUIRE(quoted);
    CHECK(quoted->endpointDst() == "10.32.0.99:53");
    CHECK(h.counter(BPX_STAT_TC_REJECT_UNALLOCATED) == 1);
  }
  SUBCASE("IPv6 TCP to an unallocated service-CIDR address gets a RST") {
    auto out = h.fromDevice(packet("fd00:1::100", 40000, "fd00:32::99", 80, BPX_PROTO_TCP));
    CHECK(out.verdictName() == "TC_ACT_REDIRECT");
    CHECK(out.packet.checksumsValid);
    CHECK(out.packet.tcpFlags == (testing::kTcpRst | testing::kTcpAck));
  }
  SUBCASE("an externalIP not assigned to this node is served, as kube-proxy serves it") {
    auto out = h.fromDevice(packet("192.168.1.100", 40000, "203.0.113.7", 80, BPX_PROTO_TCP));
    CHECK(out.verdictName() == "TC_ACT_OK");
    CHECK(out.packet.endpointDst() == "10.200.0.2:80");
  }
  SUBCASE("an address outside the service CIDR passes") {
    auto out = h.fromDevice(packet("192.168.1.100", 40000, "192.168.1.1", 22, BPX_PROTO_TCP));
    CHECK(out.verdictName() == "TC_ACT_OK");
    CHECK(out.packet.endpointDst() == "192.168.1.1:22");
  }
}

TEST_CASE("flags: external ClusterIP access, externalIPs only on this node (CVE-2020-8554)") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  controller::TcSettings settings;
  settings.allowExternalClusterIp = true;
  settings.externalIpsNodeOnly = true;
  Harness h(settings);
  h.program("nginx", {frontend("10.32.0.140", 80, BPX_PROTO_TCP, BPX_SVC_F_CLUSTER_IP,
                               {backend("10.200.0.2", 80, BPX_PROTO_TCP, true)})});
  h.program("ext", {frontend("203.0.113.7", 80, BPX_PROTO_TCP, BPX_SVC_F_EXTERNAL_IP,
                             {backend("10.200.0.2", 80, BPX_PROTO_TCP, true)}),
                    frontend("192.168.1.1", 8080, BPX_PROTO_TCP, BPX_SVC_F_EXTERNAL_IP,
                             {backend("10.200.0.2", 80, BPX_PROTO_TCP, true)})});
  CHECK(h.fromDevice(packet("192.168.1.100", 40000, "10.32.0.140", 80, BPX_PROTO_TCP)).packet.endpointDst() ==
        "10.200.0.2:80");
  // Not this node's: left alone.
  CHECK(h.fromDevice(packet("192.168.1.100", 40000, "203.0.113.7", 80, BPX_PROTO_TCP)).packet.endpointDst() ==
        "203.0.113.7:80");
  // This node's address as an externalIP: served.
  CHECK(h.fromDevice(packet("192.168.1.100", 40000, "192.168.1.1", 8080, BPX_PROTO_TCP)).packet.endpointDst() ==
        "10.200.0.2:80");
}

TEST_CASE("loadBalancerSourceRanges: an LPM trie per frontend") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  Harness h;
  auto lb = frontend("198.51.100.10", 443, BPX_PROTO_TCP, BPX_SVC_F_LOADBALANCER | BPX_SVC_F_SOURCE_RANGES,
                     {backend("10.200.0.2", 8443, BPX_PROTO_TCP, true)});
  h.program("lb", {lb});
  auto svcId = h.reconciler->serviceId(lb.key);
  REQUIRE(svcId);
  REQUIRE_OK(h.state->setSourceRanges(*svcId, {*Cidr::parse("192.168.1.0/28")}));
  auto denied = h.fromDevice(packet("192.168.1.100", 40000, "198.51.100.10", 443, BPX_PROTO_TCP));
  CHECK(denied.verdictName() == "TC_ACT_SHOT");
  CHECK(h.counter(BPX_STAT_TC_DROP_SRC_RANGE) == 1);
  auto allowed = h.fromDevice(packet("192.168.1.5", 40000, "198.51.100.10", 443, BPX_PROTO_TCP));
  CHECK(allowed.verdictName() == "TC_ACT_OK");
  CHECK(allowed.packet.endpointDst() == "10.200.0.2:8443");
}

TEST_CASE("ICMP errors about translated flows are translated back") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  Harness h;
  h.program("dns", {frontend("0.0.0.0", 30053, BPX_PROTO_UDP, kNodePortFlags,
                             {backend("10.200.128.1", 53, BPX_PROTO_UDP, false)}),
                    frontend("0.0.0.0", 30054, BPX_PROTO_UDP, kNodePortFlags | kLocal,
                             {backend("10.200.0.2", 53, BPX_PROTO_UDP, true)})});
  SUBCASE("IPv4: a remote backend's port unreachable to the SNAT address") {
    auto forward = h.fromDevice(packet("192.168.1.100", 40000, "192.168.1.1", 30053, BPX_PROTO_UDP));
    REQUIRE(forward.verdictName() == "TC_ACT_REDIRECT");
    auto error = testing::buildIcmpError(ip("10.200.128.1"), forward.packet.src, forward.frame);
    auto out = h.run(loader::TcProgram::kFromDevice, error);
    CHECK(out.verdictName() == "TC_ACT_REDIRECT");
    CHECK(out.packet.checksumsValid);
    CHECK(out.packet.src.toString() == "192.168.1.1");
    CHECK(out.packet.dst.toString() == "192.168.1.100");
    REQUIRE(out.packet.quoted);
    auto quoted = testing::decodeIpPacket(*out.packet.quoted, false);
    REQUIRE(quoted);
    CHECK(quoted->endpointSrc() == "192.168.1.100:40000");
    CHECK(quoted->endpointDst() == "192.168.1.1:30053");
    // The quoted IPv4 header's checksum was fixed too.
    CHECK(testing::decodeIpPacket(*out.packet.quoted, true)->checksumError.find("IPv4") == std::string::npos);
    CHECK(h.counter(BPX_STAT_TC_ICMP_REVNAT) == 1);
  }
  SUBCASE("IPv4: a local backend's port unreachable leaving through the device") {
    auto forward = h.fromDevice(packet("192.168.1.100", 40000, "192.168.1.1", 30054, BPX_PROTO_UDP));
    REQUIRE(forward.verdictName() == "TC_ACT_OK");
    auto error = testing::buildIcmpError(ip("10.200.0.2"), ip("192.168.1.100"), forward.frame);
    auto out = h.run(loader::TcProgram::kToDevice, error);
    CHECK(out.verdictName() == "TC_ACT_OK");
    CHECK(out.packet.checksumsValid);
    CHECK(out.packet.src.toString() == "192.168.1.1");
    auto quoted = testing::decodeIpPacket(*out.packet.quoted, false);
    CHECK(quoted->endpointDst() == "192.168.1.1:30054");
  }
}

TEST_CASE("ICMPv6 error about an IPv6 NodePort flow") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  Harness h;
  h.program("dns6", {frontend("::", 30053, BPX_PROTO_UDP, kNodePortFlags,
                              {backend("fd00:200:2::5", 53, BPX_PROTO_UDP, false)})});
  auto forward = h.fromDevice(packet("fd00:1::100", 40000, "fd00:1::1", 30053, BPX_PROTO_UDP));
  REQUIRE(forward.verdictName() == "TC_ACT_REDIRECT");
  auto error = testing::buildIcmpError(ip("fd00:200:2::5"), forward.packet.src, forward.frame);
  auto out = h.run(loader::TcProgram::kFromDevice, error);
  CHECK(out.verdictName() == "TC_ACT_REDIRECT");
  CHECK(out.packet.checksumsValid);
  CHECK(out.packet.src.toString() == "fd00:1::1");
  CHECK(out.packet.dst.toString() == "fd00:1::100");
  auto quoted = testing::decodeIpPacket(*out.packet.quoted, false);
  REQUIRE(quoted);
  CHECK(quoted->endpointSrc() == "[fd00:1::100]:40000");
  CHECK(quoted->endpointDst() == "[fd00:1::1]:30053");
}

TEST_CASE("conntrack reader: what the TC program tracked reads back as the flow it translated") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  const PacketSpec syn = packet("192.168.1.100", 40000, "192.168.1.1", 30080, BPX_PROTO_TCP);
  Harness h;
  h.program("web", {frontend("0.0.0.0", 30080, BPX_PROTO_TCP, kNodePortFlags,
                             {backend("10.200.128.1", 80, BPX_PROTO_TCP, false)})});
  CHECK(maps::readConntrack(h.tcMaps.conntrack).empty());
  auto out = h.fromDevice(syn);
  // A remote backend: DNAT and SNAT, so every field of both entries is filled.
  REQUIRE(out.packet.src.toString() == "192.168.1.1");

  auto flows = maps::readConntrack(h.tcMaps.conntrack);
  REQUIRE(flows.size() == 2);
  const auto& forward = flows[0].forward ? flows[0] : flows[1];
  const auto& reply = flows[0].forward ? flows[1] : flows[0];
  REQUIRE(forward.forward);
  REQUIRE_FALSE(reply.forward);
  for (const auto* flow : {&forward, &reply}) {
    CAPTURE(flow->forward);
    CHECK(flow->client.toString() == "192.168.1.100:40000");
    CHECK(flow->frontend.toString() == "192.168.1.1:30080");
    REQUIRE(flow->snat.has_value());
    CHECK(flow->snat->toString() == out.packet.endpointSrc());
  }
  auto snapshot = maps::readSnapshot(h.maps);
  REQUIRE(snapshot.frontends.size() == 1);
  CHECK(forward.svcId == snapshot.frontends[0].value.svc_id);
  REQUIRE(snapshot.frontends[0].backendIds.size() == 1);
  CHECK(forward.backendId == snapshot.frontends[0].backendIds[0]);
  REQUIRE(reply.backend.has_value());
  CHECK(reply.backend->toString() == out.packet.endpointDst());
}

TEST_CASE("conntrack: a flow whose backend was removed moves to a live one") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  Harness h;
  auto two = frontend("0.0.0.0", 30090, BPX_PROTO_UDP, kNodePortFlags | kLocal,
                      {backend("10.200.0.2", 53, BPX_PROTO_UDP, true), backend("10.200.0.3", 53, BPX_PROTO_UDP, true)});
  h.program("dns", {two});
  std::map<uint16_t, std::string> first;
  for (uint16_t port = 40000; port < 40040; ++port)
    first[port] = h.fromDevice(packet("192.168.1.100", port, "192.168.1.1", 30090, BPX_PROTO_UDP)).packet.endpointDst();
  std::set<std::string> used;
  for (const auto& [port, dst] : first) used.insert(dst);
  CHECK(used.size() == 2);
  // Flows keep their backend while the set does not change.
  for (const auto& [port, dst] : first)
    CHECK(h.fromDevice(packet("192.168.1.100", port, "192.168.1.1", 30090, BPX_PROTO_UDP)).packet.endpointDst() == dst);
  h.program("dns", {frontend("0.0.0.0", 30090, BPX_PROTO_UDP, kNodePortFlags | kLocal,
                             {backend("10.200.0.3", 53, BPX_PROTO_UDP, true)})});
  uint64_t moved = 0;
  for (const auto& [port, dst] : first) {
    auto now = h.fromDevice(packet("192.168.1.100", port, "192.168.1.1", 30090, BPX_PROTO_UDP));
    CHECK(now.verdictName() == "TC_ACT_OK");
    CHECK(now.packet.endpointDst() == "10.200.0.3:53");
    if (dst != "10.200.0.3:53") moved++;
  }
  CHECK(h.counter(BPX_STAT_TC_REPICK) == moved);
}

TEST_CASE("pods that bypass the socket hooks: ClusterIP per packet, hairpin") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  Harness h;
  h.program("nginx", {frontend("10.32.0.140", 80, BPX_PROTO_TCP, BPX_SVC_F_CLUSTER_IP,
                               {backend("10.200.128.1", 8080, BPX_PROTO_TCP, false)}),
                      wildcard("10.32.0.140")});
  h.program("self", {frontend("10.32.0.141", 80, BPX_PROTO_TCP, BPX_SVC_F_CLUSTER_IP,
                              {backend("10.200.0.2", 8080, BPX_PROTO_TCP, true)})});
  SUBCASE("a pod not selected is left to the socket hooks") {
    auto out = h.fromPod(packet("10.200.0.2", 40000, "10.32.0.140", 80, BPX_PROTO_TCP));
    CHECK(out.verdictName() == "TC_ACT_OK");
    CHECK(out.packet.endpointDst() == "10.32.0.140:80");
  }
  REQUIRE_OK(h.state->setBypass({{"default/mesh", {ip("10.200.0.2")}, 4242}}));
  uint64_t optOut = 0;
  bpx_optout value{};
  CHECK(h.tcMaps.optOut.lookup(uint64_t{4242}, value) == 0);
  (void)optOut;
  SUBCASE("a selected pod's ClusterIP connection is translated, its reply translated back") {
    auto out = h.fromPod(packet("10.200.0.2", 40000, "10.32.0.140", 80, BPX_PROTO_TCP));
    CHECK(out.verdictName() == "TC_ACT_OK");
    CHECK(out.packet.checksumsValid);
    CHECK(out.packet.endpointSrc() == "10.200.0.2:40000");
    CHECK(out.packet.endpointDst() == "10.200.128.1:8080");
    // The answer comes back through eth0 (remote backend) and is routed to the pod.
    auto back = h.fromDevice(packet("10.200.128.1", 8080, "10.200.0.2", 40000, BPX_PROTO_TCP,
                                    testing::kTcpSyn | testing::kTcpAck));
    CHECK(back.verdictName() == "TC_ACT_REDIRECT");
    CHECK(back.packet.checksumsValid);
    CHECK(back.packet.endpointSrc() == "10.32.0.140:80");
    CHECK(back.packet.dstMac == kPodMac);
    CHECK(h.counter(BPX_STAT_TC_CLUSTER_IP) == 1);
  }
  SUBCASE("an undefined port is refused to the pod with a RST") {
    auto out = h.fromPod(packet("10.200.0.2", 40000, "10.32.0.140", 81, BPX_PROTO_TCP));
    CHECK(out.verdictName() == "TC_ACT_REDIRECT");
    CHECK(out.packet.tcpFlags == (testing::kTcpRst | testing::kTcpAck));
  }
  SUBCASE("hairpin: the pod reaches itself through its Service") {
    auto out = h.fromPod(packet("10.200.0.2", 40000, "10.32.0.141", 80, BPX_PROTO_TCP));
    CHECK(out.verdictName() == "TC_ACT_REDIRECT");
    CHECK(out.packet.checksumsValid);
    CHECK(out.packet.endpointDst() == "10.200.0.2:8080");
    CHECK(out.packet.src.toString() == "192.168.1.1");  // not itself, or it would answer itself
    CHECK(out.packet.dstMac == kPodMac);
    auto back = h.fromPod(packet("10.200.0.2", 8080, "192.168.1.1", out.packet.sport, BPX_PROTO_TCP,
                                 testing::kTcpSyn | testing::kTcpAck));
    CHECK(back.verdictName() == "TC_ACT_REDIRECT");
    CHECK(back.packet.checksumsValid);
    CHECK(back.packet.endpointSrc() == "10.32.0.141:80");
    CHECK(back.packet.endpointDst() == "10.200.0.2:40000");
    CHECK(h.counter(BPX_STAT_TC_HAIRPIN) == 1);
  }
}

TEST_CASE("SCTP: ports translated with the CRC32c patched, both ways") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  Harness h;
  h.program("sig", {frontend("0.0.0.0", 30868, BPX_PROTO_SCTP, kNodePortFlags,
                             {backend("10.200.128.1", 3868, BPX_PROTO_SCTP, false)}),
                    frontend("::", 30868, BPX_PROTO_SCTP, kNodePortFlags,
                             {backend("fd00:200:2::5", 3868, BPX_PROTO_SCTP, false)})});
  struct Case {
    const char* description;
    PacketSpec in;
  };
  auto sctp = [](const char* src, const char* dst, size_t payload) {
    auto spec = packet(src, 40000, dst, 30868, BPX_PROTO_SCTP);
    spec.seq = 0x5ca1ab1e;
    for (size_t i = 0; i < payload; ++i) spec.payload.push_back(static_cast<char>('a' + i % 26));
    return spec;
  };
  const Case cases[] = {
      {"IPv4, a short packet", sctp("192.168.1.100", "192.168.1.1", 16)},
      {"IPv4, a long packet (the shift covers more bits)", sctp("192.168.1.100", "192.168.1.1", 1400)},
      {"IPv6", sctp("fd00:1::100", "fd00:1::1", 300)},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    auto out = h.fromDevice(c.in);
    REQUIRE(out.verdictName() == "TC_ACT_REDIRECT");
    CHECK(out.packet.sctpChecksum != 0);
    CHECK(out.packet.checksumError == "");  // the CRC32c recomputed by the decoder matches
    CHECK(out.packet.dport == 3868);
    CHECK(out.packet.sport >= 61000);  // SNAT: the source port changed too
    PacketSpec reply = c.in;
    reply.src = out.packet.dst;
    reply.sport = out.packet.dport;
    reply.dst = out.packet.src;
    reply.dport = out.packet.sport;
    auto back = h.fromDevice(reply);
    CHECK(back.verdictName() == "TC_ACT_REDIRECT");
    CHECK(back.packet.checksumError == "");
    CHECK(back.packet.endpointSrc() == formatEndpoint(c.in.dst, c.in.dport));
    CHECK(back.packet.endpointDst() == formatEndpoint(c.in.src, c.in.sport));
  }
  SUBCASE("a CRC left to offload stays zero, to be computed as the packet leaves") {
    auto spec = sctp("192.168.1.100", "192.168.1.1", 40);
    spec.sport = 40100;
    spec.sctpChecksumOffloaded = true;
    auto out = h.fromDevice(spec);
    CHECK(out.verdictName() == "TC_ACT_REDIRECT");
    CHECK(out.packet.sctpChecksum == 0);
    CHECK(out.packet.dport == 3868);
  }
  CHECK(h.counter(BPX_STAT_TC_DROP_UNSUPPORTED) == 0);
}

TEST_CASE("sessionAffinity ClientIP per packet, and one client identity across both paths") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  Harness h;
  std::vector<BackendSpec> three = {backend("10.200.0.2", 8080, BPX_PROTO_TCP, true),
                                    backend("10.200.0.3", 8080, BPX_PROTO_TCP, true),
                                    backend("10.200.0.4", 8080, BPX_PROTO_TCP, true)};
  auto sticky = frontend("10.32.0.142", 80, BPX_PROTO_TCP, BPX_SVC_F_CLUSTER_IP | BPX_SVC_F_AFFINITY, three);
  sticky.affinityTimeoutSeconds = 60;
  auto nodePort = frontend("0.0.0.0", 30142, BPX_PROTO_TCP, kNodePortFlags | BPX_SVC_F_AFFINITY, three);
  nodePort.affinityTimeoutSeconds = 60;
  h.program("sticky", {sticky, nodePort, wildcard("10.32.0.142")});

  SUBCASE("an outside client keeps its backend over new flows; clients spread") {
    std::set<std::string> perClient, acrossClients;
    for (uint16_t port = 40000; port < 40020; ++port)
      perClient.insert(h.fromDevice(packet("192.168.1.100", port, "192.168.1.1", 30142, BPX_PROTO_TCP))
                           .packet.endpointDst());
    CHECK(perClient.size() == 1);
    for (int client = 1; client <= 40; ++client) {
      std::string source = "192.168.1." + std::to_string(100 + client);
      acrossClients.insert(h.fromDevice(packet(source.c_str(), 40000, "192.168.1.1", 30142, BPX_PROTO_TCP))
                               .packet.endpointDst());
    }
    CHECK(acrossClients.size() == 3);
  }
  SUBCASE("a pod keeps its backend whether the socket hooks or the TC programs carry the flow") {
    // The socket-hook logic on the same maps (the harness program, pinned maps reused).
    std::string pinRoot = maps::mapsDir(h.pins.path());
    LIBBPF_OPTS(bpf_object_open_opts, options, .pin_root_path = pinRoot.c_str());
    auto* sock = sock_lb_harness::open(&options);
    REQUIRE(sock);
    loader::MapSizes sizes;  // the Harness's, or the pinned maps cannot be reused
    sizes.clientAffinity = sizes.conntrack = 1024;
    loader::applyMapSizes(sock->obj, sizes);
    REQUIRE(sock_lb_harness::load(sock) == 0);
    std::unique_ptr<sock_lb_harness, void (*)(sock_lb_harness*)> guard(sock, sock_lb_harness::destroy);
    auto connectFromPod = [&](uint64_t netns, uint64_t cookie) {
      bpx_harness_case in{};
      in.hook = BPX_HARNESS_CONNECT4;
      in.protocol = IPPROTO_TCP;
      in.cookie = cookie;
      in.netns_cookie = netns;
      in.ip4 = ip("10.32.0.142").v4NetworkOrder();
      in.port = htons(80);
      bpx_harness_case out{};
      LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = &in, .data_out = &out, .data_size_in = sizeof(in),
                  .data_size_out = sizeof(out));
      REQUIRE(bpf_prog_test_run_opts(bpf_program__fd(sock->progs.sock_lb_harness), &run) == 0);
      REQUIRE(out.verdict == 1);
      return formatEndpoint(IpAddress::fromV4(out.ip4), ntohs(static_cast<uint16_t>(out.port)));
    };
    // Pods 10.200.0.10..29 in namespaces 1010..1029, as the agent records them.
    for (int pod = 10; pod < 30; ++pod) {
      bpx_netns_addr addresses{};
      std::memcpy(addresses.v4, ip(("10.200.0." + std::to_string(pod)).c_str()).bytes().data(), 16);
      REQUIRE(h.tcMaps.netnsAddrs.update(uint64_t(1000 + pod), addresses) == 0);
    }
    std::vector<controller::BypassWorkload> bypass;
    for (int pod = 10; pod < 30; ++pod)
      bypass.push_back({"pod" + std::to_string(pod), {ip(("10.200.0." + std::to_string(pod)).c_str())}, 0});
    REQUIRE_OK(h.state->setBypass(bypass));
    std::set<std::string> acrossPods;
    for (int pod = 10; pod < 30; ++pod) {
      CAPTURE(pod);
      std::string address = "10.200.0." + std::to_string(pod);
      // Even pods start on the socket path, odd ones on the TC path; then the other path.
      std::string first = pod % 2 ? h.fromPod(packet(address.c_str(), 40000, "10.32.0.142", 80, BPX_PROTO_TCP))
                                        .packet.endpointDst()
                                  : connectFromPod(1000 + pod, 1);
      std::string second = pod % 2 ? connectFromPod(1000 + pod, 2)
                                   : h.fromPod(packet(address.c_str(), 40001, "10.32.0.142", 80, BPX_PROTO_TCP))
                                         .packet.endpointDst();
      CHECK(first == second);
      acrossPods.insert(first);
    }
    CHECK(acrossPods.size() == 3);
  }
}

TEST_CASE("externalTrafficPolicy Local restricts only clients outside the cluster") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  Harness h;
  // What the model writes for a Local NodePort whose endpoints are one here, one on node2.
  auto local = frontend("0.0.0.0", 30181, BPX_PROTO_TCP, kNodePortFlags | kLocal,
                        {backend("10.200.0.2", 8080, BPX_PROTO_TCP, true)});
  auto internal = frontend("0.0.0.0", 30181, BPX_PROTO_TCP, kNodePortFlags,
                           {backend("10.200.0.2", 8080, BPX_PROTO_TCP, true),
                            backend("10.200.128.1", 8080, BPX_PROTO_TCP, false)});
  internal.key.scope = BPX_SVC_SCOPE_INTERNAL;
  h.program("local", {local, internal});
  REQUIRE_OK(h.state->setBypass({{"default/mesh", {ip("10.200.0.9")}, 0}}));

  auto backendsSeen = [&](auto send) {
    std::set<std::string> seen;
    for (uint16_t port = 40000; port < 40040; ++port) seen.insert(send(port));
    return seen;
  };
  SUBCASE("an outside client gets this node's endpoint only") {
    CHECK(backendsSeen([&](uint16_t port) {
            return h.fromDevice(packet("192.168.1.100", port, "192.168.1.1", 30181, BPX_PROTO_TCP)).packet.endpointDst();
          }) == std::set<std::string>{"10.200.0.2:8080"});
  }
  SUBCASE("what arrives on a node device is outside traffic, whatever its source") {
    CHECK(backendsSeen([&](uint16_t port) {
            return h.fromDevice(packet("10.200.128.7", port, "192.168.1.1", 30181, BPX_PROTO_TCP)).packet.endpointDst();
          }) == std::set<std::string>{"10.200.0.2:8080"});
  }
  SUBCASE("a pod on the per-packet path gets every endpoint") {
    CHECK(backendsSeen([&](uint16_t port) {
            return h.fromPod(packet("10.200.0.9", port, "192.168.1.1", 30181, BPX_PROTO_TCP)).packet.endpointDst();
          }) == std::set<std::string>{"10.200.0.2:8080", "10.200.128.1:8080"});
  }
}

TEST_CASE("fragments of a translated flow are translated, IPv6 extension headers are walked") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  Harness h;
  h.program("dns", {frontend("0.0.0.0", 30053, BPX_PROTO_UDP, kNodePortFlags,
                             {backend("10.200.128.1", 53, BPX_PROTO_UDP, false)}),
                    frontend("::", 30053, BPX_PROTO_UDP, kNodePortFlags,
                             {backend("fd00:200:2::5", 53, BPX_PROTO_UDP, false)}),
                    frontend("0.0.0.0", 30868, BPX_PROTO_SCTP, kNodePortFlags,
                             {backend("10.200.128.1", 3868, BPX_PROTO_SCTP, false)})});
  auto big = [](PacketSpec spec) {
    spec.payload.clear();
    for (int i = 0; i < 3000; ++i) spec.payload.push_back(static_cast<char>('A' + i % 23));
    return spec;
  };
  // Runs each fragment through a program; all must be redirected; returns the datagram.
  auto throughAll = [&](const std::vector<std::vector<uint8_t>>& fragments) {
    std::vector<std::vector<uint8_t>> out;
    for (const auto& fragment : fragments) {
      auto result = h.run(loader::TcProgram::kFromDevice, fragment);
      CHECK(result.verdictName() == "TC_ACT_REDIRECT");
      out.push_back(result.frame);
    }
    return out;
  };
  struct Case {
    const char* description;
    const char* client;
    const char* node;
  };
  const Case cases[] = {{"IPv4", "192.168.1.100", "192.168.1.1"}, {"IPv6", "fd00:1::100", "fd00:1::1"}};
  for (const auto& c : cases) {
    CAPTURE(c.description);
    uint64_t laterBefore = h.counter(BPX_STAT_TC_FRAGMENT);
    // A large request, fragmented by the client: every fragment goes to the backend.
    auto request = big(packet(c.client, 40000, c.node, 30053, BPX_PROTO_UDP));
    auto out = decodePacket(reassembleFrames(throughAll(fragmentFrame(buildPacket(request), 1400, 7))));
    REQUIRE(out);
    CHECK(out->checksumsValid);
    CHECK(out->checksumError == "");
    CHECK(out->dport == 53);
    // A large answer (DNS with EDNS), fragmented by the backend: every fragment back.
    PacketSpec answer = big(request);
    answer.src = out->dst;
    answer.sport = out->dport;
    answer.dst = out->src;
    answer.dport = out->sport;
    auto back = decodePacket(reassembleFrames(throughAll(fragmentFrame(buildPacket(answer), 1400, 8))));
    REQUIRE(back);
    CHECK(back->checksumsValid);
    CHECK(back->checksumError == "");
    CHECK(back->endpointSrc() == formatEndpoint(request.dst, request.dport));
    CHECK(back->endpointDst() == formatEndpoint(request.src, request.sport));
    CHECK(h.counter(BPX_STAT_TC_FRAGMENT) - laterBefore == 4);  // two later fragments each way
  }
  SUBCASE("a later fragment seen before its first passes as it is, counted") {
    auto fragments = fragmentFrame(buildPacket(big(packet("192.168.1.100", 40100, "192.168.1.1", 30053, BPX_PROTO_UDP))),
                                   1400, 9);
    auto early = h.run(loader::TcProgram::kFromDevice, fragments.back());
    CHECK(early.verdictName() == "TC_ACT_OK");
    CHECK(early.packet.dst.toString() == "192.168.1.1");
    CHECK(h.counter(BPX_STAT_TC_FRAG_MISS) == 1);
  }
  SUBCASE("IPv6 with a hop-by-hop header: translated past it") {
    auto spec = packet("fd00:1::100", 40200, "fd00:1::1", 30053, BPX_PROTO_UDP);
    auto out = h.run(loader::TcProgram::kFromDevice, testing::withHopByHop(buildPacket(spec)));
    CHECK(out.verdictName() == "TC_ACT_REDIRECT");
    CHECK(out.packet.checksumsValid);
    CHECK(out.packet.endpointDst() == "[fd00:200:2::5]:53");
  }
  SUBCASE("a fragmented SCTP datagram whose port changes is refused, counted") {
    auto spec = big(packet("192.168.1.100", 40300, "192.168.1.1", 30868, BPX_PROTO_SCTP));
    auto fragments = fragmentFrame(buildPacket(spec), 1400, 10);
    auto out = h.run(loader::TcProgram::kFromDevice, fragments.front());
    CHECK(out.verdictName() == "TC_ACT_SHOT");
    CHECK(h.counter(BPX_STAT_TC_DROP_UNSUPPORTED) == 1);
  }
}

TEST_CASE("SNAT ports: the client's kept, else the range, closed flows' ports reused, TIME_WAIT last") {
  BPX_SKIP_IF_NOT_EMPTY(tcUnavailable());
  controller::TcSettings settings;
  settings.snatPortMin = 61000;
  settings.snatPortMax = 61001;  // two ports: the third open flow that cannot keep its own finds none
  Harness h(settings);
  h.program("web", {frontend("0.0.0.0", 30080, BPX_PROTO_TCP, kNodePortFlags,
                             {backend("10.200.128.1", 80, BPX_PROTO_TCP, false)})});
  // Every client below uses source port 40000: the first keeps it, the others cannot.
  auto fromClient = [&](const char* client, uint8_t flags) {
    return h.fromDevice(packet(client, 40000, "192.168.1.1", 30080, BPX_PROTO_TCP, flags));
  };
  auto syn = [&](const char* client) { return fromClient(client, testing::kTcpSyn); };
  auto fromBackend = [&](uint16_t snatPort, uint8_t flags) {
    return h.fromDevice(packet("10.200.128.1", 80, "192.168.1.1", snatPort, BPX_PROTO_TCP, flags));
  };
  const uint8_t finAck = testing::kTcpFin | testing::kTcpAck;

  auto kept = syn("192.168.1.100");
  REQUIRE(kept.verdictName() == "TC_ACT_REDIRECT");
  CHECK(kept.packet.sport == 40000);
  auto a = syn("192.168.1.101"), b = syn("192.168.1.102");
  REQUIRE(a.verdictName() == "TC_ACT_REDIRECT");
  REQUIRE(b.verdictName() == "TC_ACT_REDIRECT");
  CHECK(a.packet.sport >= 61000);
  CHECK(b.packet.sport >= 61000);
  REQUIRE(a.packet.sport != b.packet.sport);
  CHECK(syn("192.168.1.103").verdictName() == "TC_ACT_SHOT");  // every port held by an open flow
  CHECK(h.counter(BPX_STAT_TC_DROP_SNAT_PORTS) == 1);

  // A closes, the client first: the backend keeps no TIME_WAIT, the port is free at once.
  fromClient("192.168.1.101", finAck);
  CHECK(fromBackend(a.packet.sport, finAck).packet.endpointDst() == "192.168.1.101:40000");
  auto c = syn("192.168.1.103");
  CHECK(c.verdictName() == "TC_ACT_REDIRECT");
  CHECK(c.packet.sport == a.packet.sport);
  // A late packet of A's tuple is no longer translated onto C's port.
  auto late = fromClient("192.168.1.101", testing::kTcpAck);
  CHECK(!(late.verdictName() == "TC_ACT_REDIRECT" && late.packet.sport == c.packet.sport));
  // C's replies still reach C.
  CHECK(fromBackend(c.packet.sport, testing::kTcpAck).packet.endpointDst() == "192.168.1.103:40000");

  // B closes, the backend first (it holds TIME_WAIT): reused when nothing else is free.
  fromBackend(b.packet.sport, finAck);
  fromClient("192.168.1.102", finAck);
  auto d = syn("192.168.1.104");
  CHECK(d.verdictName() == "TC_ACT_REDIRECT");
  CHECK(d.packet.sport == b.packet.sport);

  // A reset flow's port is free too.
  fromClient("192.168.1.104", testing::kTcpRst | testing::kTcpAck);
  auto e = syn("192.168.1.105");
  CHECK(e.verdictName() == "TC_ACT_REDIRECT");
  CHECK(e.packet.sport == d.packet.sport);
}
