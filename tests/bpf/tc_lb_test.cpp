// The TC programs under BPF_PROG_TEST_RUN: crafted IPv4/IPv6 TCP, UDP and ICMP frames
// in, the rewritten frames and verdicts out, checksums verified by recomputing them. Maps
// are filled by the production reconciler and TcMapState. The test process moves into a
// network namespace of its own with two veth pairs, so the FIB lookups behind redirects
// see a routing table the test controls (and nothing touches the host's).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <doctest/doctest.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>

#include "controller/sync/reconciler.h"
#include "controller/node/tc_state.h"
#include "loader/tc_loader.h"
#include "maps/datapath_maps.h"
#include "maps/bpf_datapath_writer.h"
#include "maps/map_names.h"
#include "maps/tc_maps.h"
#include "tests/support/packet_builder.h"
#include "tests/support/frontend_specs.h"
#include "tests/support/test_bpffs.h"

using namespace bpfproxy;
using controller::BackendSpec;
using controller::FrontendSpec;
using testing::buildPacket;
using testing::decodePacket;
using testing::PacketSpec;

namespace {

using testing::ip;

// The node: eth0 192.168.1.1 / fd00:1::1 towards the client (.100) and node2 (.2, which
// routes 10.200.128.0/17 and fd00:200:2::/64); br0 10.200.0.1 / fd00:200:1::1 to local pods.
const std::array<uint8_t, 6> kNode2Mac{0x02, 0, 0, 0, 0x01, 0x02};
const std::array<uint8_t, 6> kClientMac{0x02, 0, 0, 0, 0x01, 0x64};
const std::array<uint8_t, 6> kPodMac{0x02, 0, 0, 0, 0x02, 0x02};

bool setUpNamespace(std::string* why) {
  static int state = 0;  // 0 not tried, 1 ready, -1 failed
  if (state) return state > 0;
  state = -1;
  if (unshare(CLONE_NEWNET) != 0) {
    *why = "unshare(CLONE_NEWNET) failed";
    return false;
  }
  const char* commands[] = {
      "ip link set lo up",
      "ip link add eth0 type veth peer name eth0p",
      "ip link add br0 type veth peer name br0p",
      "ip link set eth0 up", "ip link set eth0p up", "ip link set br0 up", "ip link set br0p up",
      "ip addr add 192.168.1.1/24 dev eth0", "ip -6 addr add fd00:1::1/64 dev eth0 nodad",
      "ip addr add 10.200.0.1/17 dev br0", "ip -6 addr add fd00:200:1::1/64 dev br0 nodad",
      "ip neigh add 192.168.1.2 lladdr 02:00:00:00:01:02 dev eth0 nud permanent",
      "ip neigh add 192.168.1.100 lladdr 02:00:00:00:01:64 dev eth0 nud permanent",
      "ip neigh add fd00:1::2 lladdr 02:00:00:00:01:02 dev eth0 nud permanent",
      "ip neigh add fd00:1::100 lladdr 02:00:00:00:01:64 dev eth0 nud permanent",
      "ip neigh add 10.200.0.2 lladdr 02:00:00:00:02:02 dev br0 nud permanent",
      "ip route add 10.200.128.0/17 via 192.168.1.2",
      "ip -6 route add fd00:200:2::/64 via fd00:1::2",
  };
  for (const char* command : commands) {
    std::string quiet = std::string(command) + " >/dev/null 2>&1";
    if (std::system(quiet.c_str()) != 0) {
      *why = std::string("namespace setup failed: ") + command;
      return false;
    }
  }
  // This namespace's own forwarding switches (the FIB helper checks them).
  std::ofstream("/proc/sys/net/ipv4/ip_forward") << "1";
  std::ofstream("/proc/sys/net/ipv6/conf/all/forwarding") << "1";
  state = 1;
  return true;
}

bool skipTc() {
  std::string why;
  bool possible = testing::bpfTestsPossible(&why) && setUpNamespace(&why);
  if (!possible) MESSAGE("TC tests skipped: " << why);
  return !possible;
}

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

struct Harness {
  testing::TestBpffsDir pins;
  std::unique_ptr<loader::TcDatapath> tc;
  maps::DatapathMaps maps;
  maps::TcMaps tcMaps;
  std::unique_ptr<maps::BpfDatapathWriter> writer;
  std::unique_ptr<controller::Reconciler> reconciler;
  std::unique_ptr<controller::TcMapState> state;
  int eth0 = static_cast<int>(if_nametoindex("eth0"));
  int br0 = static_cast<int>(if_nametoindex("br0"));

  explicit Harness(controller::TcSettings settings = {}) {
    loader::MapSizes sizes;
    sizes.clientAffinity = 1024;
    sizes.conntrack = 1024;
    tc = std::make_unique<loader::TcDatapath>(pins.path(), sizes);
    std::string error;
    REQUIRE_MESSAGE(maps.open(pins.path(), &error), error);
    REQUIRE_MESSAGE(tcMaps.open(pins.path(), &error), error);
    writer = std::make_unique<maps::BpfDatapathWriter>(maps);
    reconciler = std::make_unique<controller::Reconciler>(*writer, 1024, 4096);
    state = std::make_unique<controller::TcMapState>(tcMaps);
    auto written = state->setNode(settings,
                                  {{ip("192.168.1.1"), eth0, true}, {ip("fd00:1::1"), eth0, true}},
                                  {*Cidr::parse("10.32.0.0/24"), *Cidr::parse("fd00:32::/108")});
    REQUIRE_MESSAGE(written.empty(), written);
  }

  void program(const char* name, std::vector<FrontendSpec> frontends) {
    auto result = reconciler->apply({"default", name}, frontends);
    REQUIRE(result.errors.empty());
  }

  Result run(loader::TcProgram program, const std::vector<uint8_t>& in, int ifindex = 0) {
    Result result;
    result.frame.resize(in.size() + 256);
    __sk_buff context{};
    context.ifindex = ifindex ? ifindex : eth0;
    LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = in.data(), .data_out = result.frame.data(),
                .data_size_in = static_cast<__u32>(in.size()),
                .data_size_out = static_cast<__u32>(result.frame.size()), .ctx_in = &context,
                .ctx_size_in = sizeof(context));
    int rc = bpf_prog_test_run_opts(tc->programFd(program), &options);
    REQUIRE_MESSAGE(rc == 0, "test run failed: " << std::strerror(errno));
    result.verdict = static_cast<int>(options.retval);
    result.frame.resize(options.data_size_out);
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
  PacketSpec spec;
  spec.src = ip(src);
  spec.dst = ip(dst);
  spec.sport = sport;
  spec.dport = dport;
  spec.proto = proto;
  spec.tcpFlags = flags;
  spec.payload = proto == BPX_PROTO_UDP ? "hello" : "";
  return spec;
}

constexpr uint16_t kNodePortFlags = BPX_SVC_F_NODEPORT;
constexpr uint16_t kLocal = BPX_SVC_F_LOCAL;

}  // namespace

TEST_CASE("NodePort, Cluster policy, remote backend: DNAT+SNAT out, replies back" * doctest::skip(skipTc())) {
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
    CHECK(out.packet.sport >= 61000);
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

TEST_CASE("NodePort, Local policy: client address kept, egress reverse-translates, none local drops" *
          doctest::skip(skipTc())) {
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

TEST_CASE("refusals from outside, by reason" * doctest::skip(skipTc())) {
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
  SUBCASE("an externalIP not on this node is left alone (CVE-2020-8554)") {
    auto out = h.fromDevice(packet("192.168.1.100", 40000, "203.0.113.7", 80, BPX_PROTO_TCP));
    CHECK(out.verdictName() == "TC_ACT_OK");
    CHECK(out.packet.endpointDst() == "203.0.113.7:80");
  }
  SUBCASE("an address outside the service CIDR passes") {
    auto out = h.fromDevice(packet("192.168.1.100", 40000, "192.168.1.1", 22, BPX_PROTO_TCP));
    CHECK(out.verdictName() == "TC_ACT_OK");
    CHECK(out.packet.endpointDst() == "192.168.1.1:22");
  }
}

TEST_CASE("flags: external ClusterIP access and externalIPs allowed" * doctest::skip(skipTc())) {
  controller::TcSettings settings;
  settings.allowExternalClusterIp = true;
  settings.allowExternalIps = true;
  Harness h(settings);
  h.program("nginx", {frontend("10.32.0.140", 80, BPX_PROTO_TCP, BPX_SVC_F_CLUSTER_IP,
                               {backend("10.200.0.2", 80, BPX_PROTO_TCP, true)})});
  h.program("ext", {frontend("203.0.113.7", 80, BPX_PROTO_TCP, BPX_SVC_F_EXTERNAL_IP,
                             {backend("10.200.0.2", 80, BPX_PROTO_TCP, true)})});
  CHECK(h.fromDevice(packet("192.168.1.100", 40000, "10.32.0.140", 80, BPX_PROTO_TCP)).packet.endpointDst() ==
        "10.200.0.2:80");
  CHECK(h.fromDevice(packet("192.168.1.100", 40000, "203.0.113.7", 80, BPX_PROTO_TCP)).packet.endpointDst() ==
        "10.200.0.2:80");
}

TEST_CASE("loadBalancerSourceRanges: an LPM trie per frontend" * doctest::skip(skipTc())) {
  Harness h;
  auto lb = frontend("198.51.100.10", 443, BPX_PROTO_TCP, BPX_SVC_F_LOADBALANCER | BPX_SVC_F_SOURCE_RANGES,
                     {backend("10.200.0.2", 8443, BPX_PROTO_TCP, true)});
  h.program("lb", {lb});
  auto svcId = h.reconciler->serviceId(lb.key);
  REQUIRE(svcId);
  REQUIRE(h.state->setSourceRanges(*svcId, {*Cidr::parse("192.168.1.0/28")}).empty());
  auto denied = h.fromDevice(packet("192.168.1.100", 40000, "198.51.100.10", 443, BPX_PROTO_TCP));
  CHECK(denied.verdictName() == "TC_ACT_SHOT");
  CHECK(h.counter(BPX_STAT_TC_DROP_SRC_RANGE) == 1);
  auto allowed = h.fromDevice(packet("192.168.1.5", 40000, "198.51.100.10", 443, BPX_PROTO_TCP));
  CHECK(allowed.verdictName() == "TC_ACT_OK");
  CHECK(allowed.packet.endpointDst() == "10.200.0.2:8443");
}

TEST_CASE("ICMP errors about translated flows are translated back" * doctest::skip(skipTc())) {
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

TEST_CASE("ICMPv6 error about an IPv6 NodePort flow" * doctest::skip(skipTc())) {
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

TEST_CASE("conntrack: a flow whose backend was removed moves to a live one" * doctest::skip(skipTc())) {
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

TEST_CASE("pods that bypass the socket hooks: ClusterIP per packet, hairpin" * doctest::skip(skipTc())) {
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
  REQUIRE(h.state->setBypass({{"default/mesh", {ip("10.200.0.2")}, 4242}}).empty());
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
