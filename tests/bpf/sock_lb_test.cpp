// The socket hooks' logic under BPF_PROG_TEST_RUN, with maps filled by the production
// reconciler. Each case states what a socket asks for and what the kernel should do.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <doctest/doctest.h>
#include <netinet/in.h>

#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "controller/sync/reconciler.h"
#include "controller/node/tc_state.h"
#include "cli/ops_views.h"
#include "maps/affinity_reader.h"
#include "maps/datapath_maps.h"
#include "maps/bpf_datapath_writer.h"
#include "maps/snapshot_reader.h"
#include "maps/stat_names.h"
#include "maps/map_names.h"
#include "maps/tc_maps.h"
#include "sock_lb_harness.skel.h"
#include "tests/bpf/sock_harness_datapath.h"
#include "tests/bpf/sock_lb_harness.h"
#include "tests/support/frontend_specs.h"
#include "tests/support/require_ok.h"
#include "tests/support/skip.h"
#include "tests/support/test_bpffs.h"

using namespace bpfproxy;
using controller::BackendSpec;
using controller::FrontendSpec;

namespace {

using testing::ip;

FrontendSpec frontend(const char* vip, uint16_t port, uint8_t proto,
                      std::vector<std::pair<const char*, uint16_t>> backends) {
  std::vector<BackendSpec> specs;
  for (auto [address, backendPort] : backends) specs.push_back(testing::backendSpec(address, backendPort, proto));
  return testing::frontendSpec(vip, port, proto, BPX_SVC_F_CLUSTER_IP, std::move(specs));
}

FrontendSpec wildcard(const char* vip) { return testing::wildcardSpec(vip); }

struct Harness : testing::SockHarnessDatapath {
  // What the agent writes for the node: the service CIDRs (and flags, addresses).
  maps::TcMaps nodeMaps;
  std::unique_ptr<controller::TcMapState> node;
  void setNode(const std::vector<const char*>& serviceCidrs, controller::TcSettings settings = {},
               std::vector<controller::NodeAddress> addresses = {}) {
    if (!node) {
      REQUIRE_OK(nodeMaps.open(pins.path()));
      node = std::make_unique<controller::TcMapState>(nodeMaps);
    }
    std::vector<Cidr> cidrs;
    for (const char* text : serviceCidrs) cidrs.push_back(*Cidr::parse(text));
    REQUIRE_OK(node->setNode(settings, addresses, cidrs));
  }

  void program(const controller::ServiceKey& key, std::vector<FrontendSpec> frontends) {
    auto result = reconciler->apply(key, frontends);
    REQUIRE(result.errors.empty());
  }

  bpx_harness_case run(bpx_harness_case in) {
    bpx_harness_case out{};
    LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = &in, .data_out = &out,
                .data_size_in = sizeof(in), .data_size_out = sizeof(out));
    int rc = bpf_prog_test_run_opts(bpf_program__fd(skeleton->progs.sock_lb_harness), &options);
    REQUIRE(rc == 0);
    REQUIRE(options.retval == XDP_PASS);
    return out;
  }
};

bpx_harness_case call4(uint32_t hook, const char* address, uint16_t port, uint32_t proto,
                       uint64_t cookie) {
  bpx_harness_case c{};
  c.hook = hook;
  c.protocol = proto;
  c.cookie = cookie;
  c.ip4 = ip(address).v4NetworkOrder();
  c.port = htons(port);
  return c;
}

bpx_harness_case call6(uint32_t hook, const char* address, uint16_t port, uint32_t proto,
                       uint64_t cookie) {
  bpx_harness_case c{};
  c.hook = hook;
  c.protocol = proto;
  c.cookie = cookie;
  std::memcpy(c.ip6, ip(address).bytes().data(), 16);
  c.port = htons(port);
  return c;
}

std::string endpoint4(const bpx_harness_case& c) {
  return formatEndpoint(IpAddress::fromV4(c.ip4), ntohs(static_cast<uint16_t>(c.port)));
}

std::string endpoint6(const bpx_harness_case& c) {
  std::array<uint8_t, 16> bytes;
  std::memcpy(bytes.data(), c.ip6, 16);
  return formatEndpoint(IpAddress(bytes), ntohs(static_cast<uint16_t>(c.port)));
}

constexpr int kAllow = 1;
constexpr int kReject = 0;
const controller::ServiceKey kNginx{"default", "nginx"};
const controller::ServiceKey kDns{"kube-system", "kube-dns"};

}  // namespace

TEST_CASE("connect4 picks every ready backend of a ClusterIP and nothing else") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  h.program(kNginx, {frontend("10.32.0.140", 80, BPX_PROTO_TCP, {{"10.200.0.2", 8080}, {"10.200.128.1", 8080}}),
                     wildcard("10.32.0.140")});
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto out = h.run(call4(BPX_HARNESS_CONNECT4, "10.32.0.140", 80, IPPROTO_TCP, 1000 + i));
    REQUIRE(out.verdict == kAllow);
    seen.insert(endpoint4(out));
  }
  CHECK(seen == std::set<std::string>{"10.200.0.2:8080", "10.200.128.1:8080"});
}

TEST_CASE("socket hooks: verdicts by case") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  h.program(kNginx, {frontend("10.32.0.140", 80, BPX_PROTO_TCP, {{"10.200.0.2", 80}}), wildcard("10.32.0.140")});
  h.program(kDns, {frontend("10.32.0.10", 53, BPX_PROTO_UDP, {{"10.200.0.5", 5353}}),
                   frontend("10.32.0.10", 53, BPX_PROTO_TCP, {{"10.200.0.5", 5354}}), wildcard("10.32.0.10")});
  h.program({"default", "empty"}, {frontend("10.32.0.77", 80, BPX_PROTO_TCP, {}), wildcard("10.32.0.77")});

  struct Case {
    const char* description;
    bpx_harness_case in;
    int verdict;
    int retval;
    const char* endpoint;  // what the socket ends up connected to
  };
  const Case cases[] = {
      {"a ClusterIP port is translated", call4(BPX_HARNESS_CONNECT4, "10.32.0.140", 80, IPPROTO_TCP, 1),
       kAllow, 0, "10.200.0.2:80"},
      {"an address that is no Service passes untouched", call4(BPX_HARNESS_CONNECT4, "10.200.0.9", 80, IPPROTO_TCP, 1),
       kAllow, 0, "10.200.0.9:80"},
      {"a port the ClusterIP does not define is refused", call4(BPX_HARNESS_CONNECT4, "10.32.0.140", 81, IPPROTO_TCP, 1),
       kReject, -ECONNREFUSED, "10.32.0.140:81"},
      {"a Service without endpoints is refused at once", call4(BPX_HARNESS_CONNECT4, "10.32.0.77", 80, IPPROTO_TCP, 1),
       kReject, -ECONNREFUSED, "10.32.0.77:80"},
      {"UDP and TCP on one port reach their own backends (UDP)",
       call4(BPX_HARNESS_SENDMSG4, "10.32.0.10", 53, IPPROTO_UDP, 2), kAllow, 0, "10.200.0.5:5353"},
      {"UDP and TCP on one port reach their own backends (TCP)",
       call4(BPX_HARNESS_CONNECT4, "10.32.0.10", 53, IPPROTO_TCP, 2), kAllow, 0, "10.200.0.5:5354"},
      {"a v4-mapped address on an IPv6 socket is translated",
       call6(BPX_HARNESS_CONNECT6, "::ffff:10.32.0.140", 80, IPPROTO_TCP, 3), kAllow, 0, "10.200.0.2:80"},
      {"a v4-mapped address of no Service passes", call6(BPX_HARNESS_CONNECT6, "::ffff:10.1.2.3", 80, IPPROTO_TCP, 3),
       kAllow, 0, "10.1.2.3:80"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    auto out = h.run(c.in);
    CHECK(out.verdict == c.verdict);
    CHECK(out.retval == c.retval);
    bool v6 = c.in.hook == BPX_HARNESS_CONNECT6 || c.in.hook == BPX_HARNESS_SENDMSG6;
    CHECK((v6 ? endpoint6(out) : endpoint4(out)) == c.endpoint);  // v4-mapped prints as IPv4
  }
}

TEST_CASE("IPv6 ClusterIP: connect6 and getpeername6") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  h.program(kNginx, {frontend("fd00:32::140", 80, BPX_PROTO_TCP, {{"fd00:200::2", 8080}})});
  auto out = h.run(call6(BPX_HARNESS_CONNECT6, "fd00:32::140", 80, IPPROTO_TCP, 42));
  REQUIRE(out.verdict == kAllow);
  CHECK(endpoint6(out) == "[fd00:200::2]:8080");
  auto peer = h.run(call6(BPX_HARNESS_GETPEERNAME6, "fd00:200::2", 8080, IPPROTO_TCP, 42));
  CHECK(endpoint6(peer) == "[fd00:32::140]:80");
}

TEST_CASE("recvmsg4 and getpeername4 show the ClusterIP only to the socket that used it") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  h.program(kDns, {frontend("10.32.0.10", 53, BPX_PROTO_UDP, {{"10.200.0.5", 53}})});
  auto sent = h.run(call4(BPX_HARNESS_SENDMSG4, "10.32.0.10", 53, IPPROTO_UDP, 7));
  REQUIRE(endpoint4(sent) == "10.200.0.5:53");

  struct Case {
    const char* description;
    bpx_harness_case in;
    const char* seen;
  };
  const Case cases[] = {
      {"the answer appears to come from the ClusterIP",
       call4(BPX_HARNESS_RECVMSG4, "10.200.0.5", 53, IPPROTO_UDP, 7), "10.32.0.10:53"},
      {"getpeername reports the ClusterIP", call4(BPX_HARNESS_GETPEERNAME4, "10.200.0.5", 53, IPPROTO_UDP, 7),
       "10.32.0.10:53"},
      {"another socket talking to the pod directly sees the pod",
       call4(BPX_HARNESS_RECVMSG4, "10.200.0.5", 53, IPPROTO_UDP, 8), "10.200.0.5:53"},
      {"another source on the same socket is left alone",
       call4(BPX_HARNESS_RECVMSG4, "10.200.0.6", 53, IPPROTO_UDP, 7), "10.200.0.6:53"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    auto out = h.run(c.in);
    CHECK(out.verdict == kAllow);
    CHECK(endpoint4(out) == c.seen);
  }
}

TEST_CASE("an unconnected UDP socket keeps its backend while the Service lists it") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  h.program(kDns, {frontend("10.32.0.10", 53, BPX_PROTO_UDP, {{"10.200.0.5", 53}, {"10.200.0.6", 53}, {"10.200.0.7", 53}})});
  std::map<uint64_t, std::string> firstPick;
  std::set<std::string> acrossSockets;
  for (uint64_t cookie = 1; cookie <= 60; ++cookie) {
    auto first = endpoint4(h.run(call4(BPX_HARNESS_SENDMSG4, "10.32.0.10", 53, IPPROTO_UDP, cookie)));
    firstPick[cookie] = first;
    acrossSockets.insert(first);
    for (int again = 0; again < 5; ++again)
      CHECK(endpoint4(h.run(call4(BPX_HARNESS_SENDMSG4, "10.32.0.10", 53, IPPROTO_UDP, cookie))) == first);
  }
  CHECK(acrossSockets.size() == 3);

  // Removing one backend moves only the sockets that used it.
  h.program(kDns, {frontend("10.32.0.10", 53, BPX_PROTO_UDP, {{"10.200.0.5", 53}, {"10.200.0.6", 53}})});
  for (const auto& [cookie, first] : firstPick) {
    auto now = endpoint4(h.run(call4(BPX_HARNESS_SENDMSG4, "10.32.0.10", 53, IPPROTO_UDP, cookie)));
    const auto socketCookie = cookie;  // clang 14 cannot capture a structured binding
    CAPTURE(socketCookie);
    if (first == "10.200.0.7:53")
      CHECK(now != "10.200.0.7:53");
    else
      CHECK(now == first);
  }
}

TEST_CASE("a removed backend is never picked after the reconciler returns") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  h.setNode({"10.32.0.0/24"});
  h.program(kNginx, {frontend("10.32.0.140", 80, BPX_PROTO_TCP, {{"10.200.0.2", 80}, {"10.200.128.1", 80}})});
  h.program(kNginx, {frontend("10.32.0.140", 80, BPX_PROTO_TCP, {{"10.200.128.1", 80}})});
  for (int i = 0; i < 100; ++i)
    CHECK(endpoint4(h.run(call4(BPX_HARNESS_CONNECT4, "10.32.0.140", 80, IPPROTO_TCP, i))) == "10.200.128.1:80");
  h.program(kNginx, {});
  // No longer a Service at all: refused from the moment its entry went.
  auto out = h.run(call4(BPX_HARNESS_CONNECT4, "10.32.0.140", 80, IPPROTO_TCP, 1));
  CHECK(out.verdict == kReject);
  CHECK(out.retval == -ECONNREFUSED);
  CHECK(h.maps.readCounter(BPX_STAT_DROP_UNALLOCATED) == 1);
}

TEST_CASE("service CIDRs: an address no Service has is refused at once, by reason") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  h.setNode({"10.32.0.0/24", "fd00:32::/108"});
  h.program(kNginx, {frontend("10.32.0.140", 80, BPX_PROTO_TCP, {{"10.200.0.2", 80}}), wildcard("10.32.0.140")});
  struct Case {
    const char* description;
    bpx_harness_case in;
    int verdict;
    uint32_t counter;  // the reason counted, or BPX_STAT_COUNT for a translation/pass
  };
  const Case cases[] = {
      {"TCP connect to an unallocated ClusterIP", call4(BPX_HARNESS_CONNECT4, "10.32.0.99", 80, IPPROTO_TCP, 1),
       kReject, BPX_STAT_DROP_UNALLOCATED},
      {"UDP sendmsg to an unallocated ClusterIP", call4(BPX_HARNESS_SENDMSG4, "10.32.0.99", 53, IPPROTO_UDP, 2),
       kReject, BPX_STAT_DROP_UNALLOCATED},
      {"IPv6 connect to an unallocated ClusterIP", call6(BPX_HARNESS_CONNECT6, "fd00:32::99", 80, IPPROTO_TCP, 3),
       kReject, BPX_STAT_DROP_UNALLOCATED},
      {"v4-mapped on an IPv6 socket", call6(BPX_HARNESS_CONNECT6, "::ffff:10.32.0.98", 80, IPPROTO_TCP, 4),
       kReject, BPX_STAT_DROP_UNALLOCATED},
      {"an undefined port of a ClusterIP is counted apart", call4(BPX_HARNESS_CONNECT4, "10.32.0.140", 81, IPPROTO_TCP, 5),
       kReject, BPX_STAT_DROP_NO_PORT},
      {"outside the service CIDRs passes", call4(BPX_HARNESS_CONNECT4, "10.33.0.99", 80, IPPROTO_TCP, 6), kAllow,
       BPX_STAT_COUNT},
      {"a ClusterIP is translated", call4(BPX_HARNESS_CONNECT4, "10.32.0.140", 80, IPPROTO_TCP, 7), kAllow,
       BPX_STAT_COUNT},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    auto before = h.maps.readCounters();
    auto out = h.run(c.in);
    auto after = h.maps.readCounters();
    CHECK(out.verdict == c.verdict);
    CHECK(out.retval == (c.verdict == kReject ? -ECONNREFUSED : 0));
    for (uint32_t reason : {BPX_STAT_DROP_UNALLOCATED, BPX_STAT_DROP_NO_PORT})
      CHECK(after[reason] - before[reason] == (reason == c.counter ? 1u : 0u));
  }
}

TEST_CASE("SCTP sockets reach SCTP frontends, not the TCP ones") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  h.setNode({"10.32.0.0/24"});
  h.program({"default", "sig"}, {frontend("10.32.0.150", 3868, BPX_PROTO_SCTP, {{"10.200.0.8", 3869}}),
                                 frontend("10.32.0.150", 80, BPX_PROTO_TCP, {{"10.200.0.8", 8080}}),
                                 wildcard("10.32.0.150")});
  auto sctp = h.run(call4(BPX_HARNESS_CONNECT4, "10.32.0.150", 3868, IPPROTO_SCTP, 1));
  CHECK(sctp.verdict == kAllow);
  CHECK(endpoint4(sctp) == "10.200.0.8:3869");
  auto peer = h.run(call4(BPX_HARNESS_GETPEERNAME4, "10.200.0.8", 3869, IPPROTO_SCTP, 1));
  CHECK(endpoint4(peer) == "10.32.0.150:3868");
  // The TCP port is no SCTP port: refused like any undefined port.
  auto other = h.run(call4(BPX_HARNESS_CONNECT4, "10.32.0.150", 80, IPPROTO_SCTP, 2));
  CHECK(other.verdict == kReject);
  CHECK(h.maps.readCounter(BPX_STAT_SCTP) == 1);
  CHECK(h.maps.readCounter(BPX_STAT_TCP) == 0);
}

TEST_CASE("counters count translations and refusals") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  h.program(kNginx, {frontend("10.32.0.140", 80, BPX_PROTO_TCP, {{"10.200.0.2", 80}}), wildcard("10.32.0.140")});
  for (int i = 0; i < 3; ++i) h.run(call4(BPX_HARNESS_CONNECT4, "10.32.0.140", 80, IPPROTO_TCP, i));
  h.run(call4(BPX_HARNESS_CONNECT4, "10.32.0.140", 99, IPPROTO_TCP, 1));
  auto counters = h.maps.readCounters();
  CHECK(counters[BPX_STAT_CONNECT4] == 3);
  CHECK(counters[BPX_STAT_TCP] == 3);
  CHECK(counters[BPX_STAT_DROP_NO_PORT] == 1);
}

TEST_CASE("sessionAffinity ClientIP: every socket of a pod reaches one backend") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  auto sticky = frontend("10.32.0.141", 80, BPX_PROTO_TCP, {{"10.200.0.2", 80}, {"10.200.0.3", 80}, {"10.200.0.4", 80}});
  sticky.flags |= BPX_SVC_F_AFFINITY;
  sticky.affinityTimeoutSeconds = 10800;
  h.program(kNginx, {sticky});

  auto connectFrom = [&](uint64_t netns, uint64_t socket) {
    auto call = call4(BPX_HARNESS_CONNECT4, "10.32.0.141", 80, IPPROTO_TCP, socket);
    call.netns_cookie = netns;
    return endpoint4(h.run(call));
  };
  std::map<uint64_t, std::string> chosen;
  std::set<std::string> acrossPods;
  for (uint64_t pod = 1; pod <= 40; ++pod) {
    chosen[pod] = connectFrom(pod, pod * 1000);
    acrossPods.insert(chosen[pod]);
    for (uint64_t socket = 1; socket <= 5; ++socket) CHECK(connectFrom(pod, pod * 1000 + socket) == chosen[pod]);
  }
  CHECK(acrossPods.size() == 3);  // pods still spread over the backends

  // A backend leaving moves only its clients; the others keep theirs.
  sticky.backends.pop_back();  // 10.200.0.4
  h.program(kNginx, {sticky});
  for (const auto& [pod, backend] : chosen) {
    const auto client = pod;  // clang 14 cannot capture a structured binding
    CAPTURE(client);
    auto now = connectFrom(pod, 99);
    if (backend == "10.200.0.4:80")
      CHECK(now != backend);
    else
      CHECK(now == backend);
  }
}

// Issue 9: a sticky entry (ClientIP affinity, unconnected-UDP stickiness) names a svc_id and
// a generation. Service ids are reused smallest-first; when generations restarted at 1 for
// every new frontend, a client's entry for a deleted Service matched the Service that got
// its id, and sent the client to whatever backend now holds the entry's backend id.
namespace {

struct ReuseSequence {
  const char* description;
  uint8_t proto;
  uint16_t flags;
  uint32_t hook;
  uint32_t protocol;
  bool restart;  // a new agent adopts the maps before A is deleted
};

}  // namespace

TEST_CASE("a reused Service id never sends a client to another Service's backend") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  const ReuseSequence sequences[] = {
      {"sessionAffinity ClientIP, TCP connect", BPX_PROTO_TCP, BPX_SVC_F_AFFINITY, BPX_HARNESS_CONNECT4,
       IPPROTO_TCP, false},
      {"unconnected UDP socket, sendmsg", BPX_PROTO_UDP, 0, BPX_HARNESS_SENDMSG4, IPPROTO_UDP, false},
      {"sessionAffinity ClientIP, across an agent restart", BPX_PROTO_TCP, BPX_SVC_F_AFFINITY,
       BPX_HARNESS_CONNECT4, IPPROTO_TCP, true},
      {"unconnected UDP socket, across an agent restart", BPX_PROTO_UDP, 0, BPX_HARNESS_SENDMSG4, IPPROTO_UDP,
       true},
  };
  for (const auto& s : sequences) {
    std::string sequence = s.description;
    CAPTURE(sequence);
    Harness h;
    const controller::ServiceKey a{"default", "a"}, b{"default", "b"}, c{"default", "c"};
    auto spec = [&](const controller::ServiceKey& owner, const char* vip,
                    std::vector<std::pair<const char*, uint16_t>> backends) {
      auto f = frontend(vip, 80, s.proto, std::move(backends));
      f.name = owner.name;  // the identity a restarted agent adopts the frontend under
      f.flags |= s.flags;
      f.affinityTimeoutSeconds = 10800;
      return f;
    };
    auto call = [&](const char* vip) {
      auto in = call4(s.hook, vip, 80, s.protocol, /*cookie=*/77);
      in.netns_cookie = 5;  // one pod, one socket: the same client throughout
      return h.run(in);
    };
    h.program(c, {spec(c, "10.32.0.30", {{"10.200.0.30", 80}})});
    h.program(a, {spec(a, "10.32.0.10", {{"10.200.0.10", 80}})});
    auto first = call("10.32.0.10");
    REQUIRE(endpoint4(first) == "10.200.0.10:80");
    auto aId = h.reconciler->serviceId({ip("10.32.0.10"), 80, s.proto});
    REQUIRE(aId);
    if (s.restart) {  // the new agent sees only the live Services, not the sticky entries
      h.reconciler = std::make_unique<controller::Reconciler>(*h.writer, 1024, 4096);
      REQUIRE(h.reconciler->adopt(maps::readSnapshot(h.maps)).errors.empty());
    }

    // A goes; C gains a backend that takes A's backend id; B is created and takes A's svc_id.
    h.program(a, {});
    h.program(c, {spec(c, "10.32.0.30", {{"10.200.0.30", 80}, {"10.200.0.31", 80}})});
    h.program(b, {spec(b, "10.32.0.20", {{"10.200.0.20", 80}, {"10.200.0.21", 80}})});
    REQUIRE(h.reconciler->serviceId({ip("10.32.0.20"), 80, s.proto}) == aId);  // the sequence really reuses it

    for (int i = 0; i < 20; ++i) {
      auto out = call("10.32.0.20");
      CHECK(out.verdict == kAllow);
      std::string reached = endpoint4(out);
      CHECK((reached == "10.200.0.20:80" || reached == "10.200.0.21:80"));
    }
  }
}

TEST_CASE("a UDP socket keeps its last four Services, a fifth reuses the oldest") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  const char* vips[] = {"10.32.0.21", "10.32.0.22", "10.32.0.23", "10.32.0.24", "10.32.0.25"};
  for (int i = 0; i < 5; ++i) {
    std::string backend = "10.200.1." + std::to_string(i + 1);
    h.program({"default", "dns-" + std::to_string(i)},
              {frontend(vips[i], 53, BPX_PROTO_UDP, {{backend.c_str(), 5353}})});
  }
  constexpr uint64_t kSocket = 77;
  for (const char* vip : vips)
    REQUIRE(h.run(call4(BPX_HARNESS_SENDMSG4, vip, 53, IPPROTO_UDP, kSocket)).verdict == kAllow);
  struct Case {
    const char* description;
    const char* from;
    const char* seen;
  };
  const Case cases[] = {
      {"the oldest Service's answer is no longer reverse-translated", "10.200.1.1", "10.200.1.1:5353"},
      {"the second is still known", "10.200.1.2", "10.32.0.22:53"},
      {"the newest, in the reused peer, is known", "10.200.1.5", "10.32.0.25:53"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    CHECK(endpoint4(h.run(call4(BPX_HARNESS_RECVMSG4, c.from, 5353, IPPROTO_UDP, kSocket))) == c.seen);
  }
  // Sending again to a known Service reuses its peer: the others stay.
  REQUIRE(h.run(call4(BPX_HARNESS_SENDMSG4, vips[2], 53, IPPROTO_UDP, kSocket)).verdict == kAllow);
  CHECK(endpoint4(h.run(call4(BPX_HARNESS_RECVMSG4, "10.200.1.2", 5353, IPPROTO_UDP, kSocket))) == "10.32.0.22:53");
}

namespace {

bpx_netns_addr netnsAddresses(const char* v4, const char* v6 = nullptr) {
  bpx_netns_addr value{};
  if (v4) std::memcpy(value.v4, ip(v4).bytes().data(), 16);
  if (v6) std::memcpy(value.v6, ip(v6).bytes().data(), 16);
  return value;
}

// The affinity table's clients, as the CLI prints them.
std::set<std::string> affinityClients(Harness& h) {
  std::set<std::string> clients;
  for (const auto& entry : maps::readClientAffinity(h.maps.clientAffinity)) clients.insert(entry.client);
  return clients;
}

constexpr uint64_t kNodeNetns = 77;

}  // namespace

TEST_CASE("client identity: a pod is its address, the node its own, an unknown namespace its cookie") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  controller::TcSettings settings;
  settings.nodeNetnsCookie = kNodeNetns;
  h.setNode({"10.32.0.0/24"}, settings, {{ip("192.168.1.1"), 2, true}});
  REQUIRE(h.nodeMaps.netnsAddrs.update(uint64_t{1001}, netnsAddresses("10.200.0.5", "fd00:200::5")) == 0);
  auto sticky = frontend("10.32.0.141", 80, BPX_PROTO_TCP, {{"10.200.0.2", 80}, {"10.200.0.3", 80}});
  sticky.flags |= BPX_SVC_F_AFFINITY;
  sticky.affinityTimeoutSeconds = 60;
  h.program(kNginx, {sticky});
  for (uint64_t netns : {uint64_t{1001}, kNodeNetns, uint64_t{1002}}) {
    auto call = call4(BPX_HARNESS_CONNECT4, "10.32.0.141", 80, IPPROTO_TCP, netns * 10);
    call.netns_cookie = netns;
    CHECK(h.run(call).verdict == kAllow);
  }
  CHECK(affinityClients(h) == std::set<std::string>{"10.200.0.5", "192.168.1.1", "netns:1002"});
}

TEST_CASE("loadBalancerSourceRanges on the socket path: the client's address decides") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  controller::TcSettings settings;
  settings.nodeNetnsCookie = kNodeNetns;
  h.setNode({"10.32.0.0/24"}, settings, {{ip("192.168.1.1"), 2, true}});
  REQUIRE(h.nodeMaps.netnsAddrs.update(uint64_t{1001}, netnsAddresses("10.200.0.5")) == 0);
  REQUIRE(h.nodeMaps.netnsAddrs.update(uint64_t{1002}, netnsAddresses("10.200.1.5")) == 0);
  auto lb = testing::frontendSpec("198.51.100.10", 443, BPX_PROTO_TCP,
                                  BPX_SVC_F_LOADBALANCER | BPX_SVC_F_SOURCE_RANGES,
                                  {testing::backendSpec("10.200.0.2", 8443, BPX_PROTO_TCP)});
  h.program({"default", "lb"}, {lb});
  auto svcId = h.reconciler->serviceId(lb.key);
  REQUIRE(svcId);
  REQUIRE_OK(h.node->setSourceRanges(*svcId, {*Cidr::parse("10.200.0.0/24"), *Cidr::parse("192.168.1.0/24")}));
  struct Case {
    const char* description;
    uint64_t netns;
    int verdict;
  };
  const Case cases[] = {
      {"a pod inside the ranges", 1001, kAllow},
      {"a pod outside them", 1002, kReject},
      {"the node, by its own address", kNodeNetns, kAllow},
      {"a namespace whose address is not known yet", 1003, kReject},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    auto call = call4(BPX_HARNESS_CONNECT4, "198.51.100.10", 443, IPPROTO_TCP, c.netns);
    call.netns_cookie = c.netns;
    auto out = h.run(call);
    CHECK(out.verdict == c.verdict);
    CHECK(endpoint4(out) == (c.verdict == kAllow ? "10.200.0.2:8443" : "198.51.100.10:443"));
    if (c.verdict == kReject) CHECK(out.retval == -ECONNREFUSED);
  }
  CHECK(h.maps.readCounter(BPX_STAT_DROP_SRC_RANGE) == 2);
}

TEST_CASE("a pod reaching a Local NodePort or externalIP is served by every endpoint") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  h.setNode({"10.32.0.0/24"}, {}, {{ip("192.168.1.1"), 2, true}});
  auto local = [](const char* vip, uint16_t port, uint16_t flags, uint8_t scope) {
    std::vector<BackendSpec> backends{testing::backendSpec("10.200.0.2", 8080, BPX_PROTO_TCP, true)};
    if (scope == BPX_SVC_SCOPE_INTERNAL) backends.push_back(testing::backendSpec("10.200.128.1", 8080, BPX_PROTO_TCP));
    auto spec = testing::frontendSpec(vip, port, BPX_PROTO_TCP,
                                      flags | (scope == BPX_SVC_SCOPE_ALL ? BPX_SVC_F_LOCAL : 0), backends);
    spec.key.scope = scope;
    return spec;
  };
  h.program({"default", "local"},
            {local("0.0.0.0", 30181, BPX_SVC_F_NODEPORT, BPX_SVC_SCOPE_ALL),
             local("0.0.0.0", 30181, BPX_SVC_F_NODEPORT, BPX_SVC_SCOPE_INTERNAL),
             local("203.0.113.7", 80, BPX_SVC_F_EXTERNAL_IP, BPX_SVC_SCOPE_ALL),
             local("203.0.113.7", 80, BPX_SVC_F_EXTERNAL_IP, BPX_SVC_SCOPE_INTERNAL)});
  for (auto [address, port] : {std::pair{"192.168.1.1", 30181}, std::pair{"203.0.113.7", 80}}) {
    const auto destination = address;  // clang 14 cannot capture a structured binding
    CAPTURE(destination);
    std::set<std::string> seen;
    for (uint64_t cookie = 1; cookie <= 40; ++cookie)
      seen.insert(endpoint4(h.run(call4(BPX_HARNESS_CONNECT4, address, static_cast<uint16_t>(port), IPPROTO_TCP, cookie))));
    CHECK(seen == std::set<std::string>{"10.200.0.2:8080", "10.200.128.1:8080"});
  }
}

// `bpfproxy explain` computes its verdict from the maps; here it is held to what the socket
// hooks really do with the same maps, so the two cannot drift apart.
TEST_CASE("explain says what the socket hooks do, case by case") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Harness h;
  h.setNode({"10.32.0.0/24"});
  h.program(kNginx, {frontend("10.32.0.140", 80, BPX_PROTO_TCP, {{"10.200.0.2", 8080}, {"10.200.128.1", 8080}}),
                     wildcard("10.32.0.140")});
  h.program({"default", "empty"}, {frontend("10.32.0.77", 80, BPX_PROTO_TCP, {}), wildcard("10.32.0.77")});
  const auto snapshot = maps::readSnapshot(h.maps);
  struct Case {
    const char* description;
    const char* address;
    uint16_t port;
    const char* verdict;  // what both say
  };
  const Case cases[] = {
      {"a ClusterIP port", "10.32.0.140", 80, "translated"},
      {"a port the ClusterIP does not define", "10.32.0.140", 81, "refused"},
      {"a Service without endpoints", "10.32.0.77", 80, "refused"},
      {"a service-CIDR address no Service has", "10.32.0.99", 80, "refused"},
      {"an address outside the service CIDRs", "10.33.0.99", 80, "not a service"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    // The hook: its verdict, and the refusal counter that moved.
    auto before = h.maps.readCounters();
    auto out = h.run(call4(BPX_HARNESS_CONNECT4, c.address, c.port, IPPROTO_TCP, 1));
    auto after = h.maps.readCounters();
    const std::string asked = formatEndpoint(ip(c.address), c.port);
    const std::string hook = out.verdict == kReject ? "refused" : endpoint4(out) == asked ? "not a service" : "translated";
    std::string hookReason;
    for (const auto& counter : maps::dropCounters())
      if (after[counter.index] != before[counter.index]) hookReason = counter.reason;
    // explain, from the same maps.
    cli::FlowQuery query;
    query.source = ip("10.200.0.9");
    query.destination = ip(c.address);
    query.port = c.port;
    query.proto = BPX_PROTO_TCP;
    auto explanation = cli::explainFlow(snapshot, query, cli::readExplainExtras(h.nodeMaps.lpm, h.nodeMaps.nodeAddrs, snapshot, query));
    CHECK(hook == c.verdict);
    CHECK(explanation.verdict == hook);
    CHECK(explanation.reason == hookReason);
    if (hook == "translated") {
      REQUIRE(explanation.frontend.has_value());
      std::set<std::string> explained;
      for (uint32_t id : explanation.frontend->backendIds)
        explained.insert(formatEndpoint(maps::addressOf(snapshot.backends.at(id).addr), maps::hostPort(snapshot.backends.at(id).port)));
      CHECK(explained.contains(endpoint4(out)));
    }
  }
}
