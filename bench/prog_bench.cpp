// Per-call cost of each BPF program under BPF_PROG_TEST_RUN at 1, 1,000 and 10,000
// Services of 10 endpoints, so a change to the fast path shows its cost in seconds without
// a network run. The socket hooks run through the test XDP harness (the kernel cannot
// test-run cgroup sock_addr programs): its own cost is measured alone and subtracted. Each
// figure is the median (and p10-p90) of single runs timed by the kernel (repeat 1: a
// rewritten packet must not be fed back in). Not a test: nothing here passes or fails.
//
//   bpx_prog_bench [--services 1,1000,10000] [--runs 20000] [--json FILE]
//                  [--harness-object FILE] [--tc-object FILE]
// --harness-object: another build of tests/bpf/sock_lb_harness.bpf.c (an older commit's, for
// a before/after comparison in one run); its maps must keep the layouts of the pinned ones.
// --tc-object: another build of bpf/tc_lb.bpf.c, the same way: every TC case then runs on it
// and on the current programs in turn (rows marked "[before]").
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "controller/sync/reconciler.h"
#include "controller/node/tc_state.h"
#include "loader/tc_loader.h"
#include "maps/datapath_maps.h"
#include "maps/bpf_datapath_writer.h"
#include "maps/map_names.h"
#include "maps/tc_maps.h"
#include "sock_lb_harness.skel.h"
#include "tests/bpf/sock_lb_harness.h"
#include "tests/support/frontend_specs.h"
#include "tests/support/packet_builder.h"
#include "tests/support/tc_datapath_fixture.h"
#include "tests/support/tc_test_namespace.h"
#include "tests/support/test_bpffs.h"

using namespace bpfproxy;
using testing::ip;

namespace {

constexpr int kEndpoints = 10;
constexpr uint32_t kNoHook = 0;  // the harness alone: builds the context, runs no hook

struct Figure {
  std::string program, what;
  size_t services = 0;
  double median = 0, p10 = 0, p90 = 0;
  size_t runs = 0;
};

// Median and spread of per-run nanoseconds.
Figure summarize(std::vector<uint32_t> ns) {
  Figure figure;
  if (ns.empty()) return figure;
  std::sort(ns.begin(), ns.end());
  figure.median = ns[ns.size() / 2];
  figure.p10 = ns[ns.size() / 10];
  figure.p90 = ns[ns.size() * 9 / 10];
  figure.runs = ns.size();
  return figure;
}

std::string clusterIp(size_t i) {
  return "10.32." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}

// Endpoint j of Service i: Service 0's are behind node2 (routed), so NodePort redirects work.
std::string endpoint(size_t i, int j) {
  if (i == 0) return "10.200.128." + std::to_string(j + 1);
  size_t index = i * kEndpoints + j;
  return "10.100." + std::to_string(index >> 8 & 255) + "." + std::to_string(index & 255);
}

controller::FrontendSpec service(size_t i, const char* vip, uint16_t port, uint8_t proto, uint16_t flags) {
  std::vector<controller::BackendSpec> backends;
  for (int j = 0; j < kEndpoints; ++j) {
    std::string address = endpoint(i, j);
    backends.push_back(testing::backendSpec(address.c_str(), proto == BPX_PROTO_UDP ? 53 : 80, proto));
  }
  auto spec = testing::frontendSpec(vip, port, proto, flags, std::move(backends));
  spec.name = "svc-" + std::to_string(i);
  return spec;
}

// Sizes the pinned maps have, so that another build's object reuses them.
void matchPinnedSizes(bpf_object* object, const std::string& pinDir) {
  bpf_map* map;
  bpf_object__for_each_map(map, object) {
    auto pinned = maps::MapFd::openPinned(maps::mapPinPath(pinDir, bpf_map__name(map)));
    maps::MapFd::Info info;
    if (pinned && pinned->info(info) == 0) bpf_map__set_max_entries(map, info.maxEntries);
  }
}

struct Bench : testing::TcDatapathFixture {
  bpf_object* harness = nullptr;
  int harnessFd = -1;
  bpf_object* olderTc = nullptr;
  int olderFromDev = -1, olderToDev = -1;
  size_t programmed = 0;
  uint64_t nextCookie = 1;

  std::string open(const std::string& harnessObject, const std::string& tcObject) {
    if (auto error = TcDatapathFixture::open({}, BPX_DEFAULT_SERVICE_PORTS, BPX_DEFAULT_BACKENDS); !error.empty())
      return error;
    std::string pinRoot = maps::mapsDir(pins.path());
    LIBBPF_OPTS(bpf_object_open_opts, options, .pin_root_path = pinRoot.c_str());
    size_t size = 0;
    const void* embedded = sock_lb_harness::elf_bytes(&size);
    harness = harnessObject.empty() ? bpf_object__open_mem(embedded, size, &options)
                                    : bpf_object__open_file(harnessObject.c_str(), &options);
    if (!harness) return "cannot open the socket harness";
    // Shared maps take the sizes the datapath pinned (another build's defaults may differ).
    matchPinnedSizes(harness, pins.path());
    // A fresh socket per connect (the harness keeps socket state in a hash of its own).
    if (bpf_map* sockets = bpf_object__find_map_by_name(harness, "harness_sock_state"))
      bpf_map__set_max_entries(sockets, 1 << 17);
    if (bpf_object__load(harness) != 0) return "cannot load the socket harness";
    bpf_program* program = bpf_object__find_program_by_name(harness, "sock_lb_harness");
    if (!program) return "the harness object has no sock_lb_harness program";
    harnessFd = bpf_program__fd(program);
    if (!tcObject.empty()) {
      olderTc = bpf_object__open_file(tcObject.c_str(), &options);
      if (!olderTc) return "cannot open " + tcObject;
      matchPinnedSizes(olderTc, pins.path());
      if (bpf_object__load(olderTc) != 0) return "cannot load " + tcObject;
      bpf_program* from = bpf_object__find_program_by_name(olderTc, "bpx_tc_from_dev");
      bpf_program* to = bpf_object__find_program_by_name(olderTc, "bpx_tc_to_dev");
      if (!from || !to) return tcObject + " has no bpx_tc_from_dev/bpx_tc_to_dev";
      olderFromDev = bpf_program__fd(from);
      olderToDev = bpf_program__fd(to);
    }
    auto written = state->setNode({}, {{ip("192.168.1.1"), eth0, true}}, {*Cidr::parse("10.32.0.0/16")});
    return written ? "" : written.error().message;
  }
  ~Bench() {
    if (harness) bpf_object__close(harness);
    if (olderTc) bpf_object__close(olderTc);
  }

  // Services 0 .. count-1; Service 0 also has UDP 53 and NodePort 30080.
  void grow(size_t count) {
    for (; programmed < count; ++programmed) program(programmed, BPX_LB_RANDOM);
  }

  // Service i with every frontend on `algorithm` (BPX_LB_*).
  void program(size_t i, uint8_t algorithm, uint16_t extraFlags = 0) {
    std::string vip = clusterIp(i);
    std::vector<controller::FrontendSpec> frontends = {
        service(i, vip.c_str(), 80, BPX_PROTO_TCP, BPX_SVC_F_CLUSTER_IP), testing::wildcardSpec(vip.c_str())};
    if (i == 0) {
      frontends.push_back(service(i, vip.c_str(), 53, BPX_PROTO_UDP, BPX_SVC_F_CLUSTER_IP));
      frontends.push_back(service(i, "0.0.0.0", 30080, BPX_PROTO_TCP, BPX_SVC_F_NODEPORT));
    }
    for (auto& frontend : frontends)
      if (!(frontend.flags & BPX_SVC_F_WILDCARD)) {
        frontend.algorithm = algorithm;
        frontend.flags |= extraFlags;
      }
    auto result = reconciler->apply({"bench", "svc-" + std::to_string(i)}, frontends);
    if (!result.errors.empty()) throw std::runtime_error("programming Service " + std::to_string(i) + " failed");
  }

  // One harness call; returns the kernel's nanoseconds.
  uint32_t sock(uint32_t hook, const char* address, uint16_t port, uint32_t proto, uint64_t cookie) {
    bpx_harness_case in{}, out{};
    in.hook = hook;
    in.protocol = proto;
    in.cookie = cookie;
    in.ip4 = ip(address).v4NetworkOrder();
    in.port = htons(port);
    LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = &in, .data_out = &out, .data_size_in = sizeof(in),
                .data_size_out = sizeof(out), .repeat = 1);
    if (bpf_prog_test_run_opts(harnessFd, &options) != 0)
      throw std::runtime_error(std::string("harness test run failed: ") + std::strerror(errno));
    return options.duration;
  }

  testing::TcRun tcRun(loader::TcProgram program, const std::vector<uint8_t>& in, bool older = false) {
    testing::TcRun result;
    bool ran = !older ? run(program, in, result)
                      : runFd(program == loader::TcProgram::kFromDevice ? olderFromDev : olderToDev, in, result);
    if (!ran) throw std::runtime_error(std::string("TC test run failed: ") + std::strerror(errno));
    return result;
  }
};

testing::PacketSpec tcp(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
                        uint8_t flags) {
  return testing::flowPacket(src, sport, dst, dport, BPX_PROTO_TCP, flags);
}

// Every case at one size.
std::vector<Figure> measure(Bench& bench, size_t services, size_t runs) {
  std::vector<Figure> figures;
  auto add = [&](const char* program, const char* what, std::vector<uint32_t> ns) {
    Figure figure = summarize(std::move(ns));
    figure.program = program;
    figure.what = what;
    figure.services = services;
    figures.push_back(figure);
  };
  auto repeat = [&](auto&& call) {
    std::vector<uint32_t> ns;
    ns.reserve(runs);
    for (size_t r = 0; r < runs; ++r) ns.push_back(call(r));
    return ns;
  };
  const std::string vip = clusterIp(0);
  const std::string lastVip = clusterIp(services - 1);

  add("harness", "the XDP harness alone (subtracted below)",
      repeat([&](size_t) { return bench.sock(kNoHook, "10.1.2.3", 80, IPPROTO_TCP, 1); }));
  double harness = figures.back().median;
  auto hook = [&](const char* program, const char* what, std::vector<uint32_t> ns) {
    for (auto& value : ns) value = value > harness ? static_cast<uint32_t>(value - harness) : 0;
    add(program, what, std::move(ns));
  };
  hook("connect4", "ClusterIP TCP, a new socket", repeat([&](size_t) {
         return bench.sock(BPX_HARNESS_CONNECT4, lastVip.c_str(), 80, IPPROTO_TCP, bench.nextCookie++);
       }));
  hook("connect4", "not a Service (every other connect)",
       repeat([&](size_t) { return bench.sock(BPX_HARNESS_CONNECT4, "10.1.2.3", 80, IPPROTO_TCP, 1); }));
  const uint64_t udpSocket = bench.nextCookie++;
  hook("sendmsg4", "ClusterIP UDP, a socket that keeps its backend",
       repeat([&](size_t) { return bench.sock(BPX_HARNESS_SENDMSG4, vip.c_str(), 53, IPPROTO_UDP, udpSocket); }));
  hook("recvmsg4", "the answer from its backend", repeat([&](size_t r) {
         return bench.sock(BPX_HARNESS_RECVMSG4, endpoint(0, static_cast<int>(r % kEndpoints)).c_str(), 53,
                           IPPROTO_UDP, udpSocket);
       }));

  // Each TC case on the current programs and, with --tc-object, in turn on the older ones
  // (which goes first alternates). frame(i): the i-th input; 2r for the current run r.
  auto tcCase = [&](loader::TcProgram program, const char* name, const std::string& what, size_t count,
                    auto&& frame) {
    std::vector<uint32_t> current, older;
    for (size_t r = 0; r < count; ++r) {
      if (bench.olderTc && r % 2) older.push_back(bench.tcRun(program, frame(2 * r + 1), true).ns);
      current.push_back(bench.tcRun(program, frame(2 * r)).ns);
      if (bench.olderTc && !(r % 2)) older.push_back(bench.tcRun(program, frame(2 * r + 1), true).ns);
    }
    if (bench.olderTc) add(name, (what + " [before]").c_str(), std::move(older));
    add(name, what.c_str(), std::move(current));
  };
  const auto fromDev = loader::TcProgram::kFromDevice;

  // NodePort from an outside client: new flows, then one established flow both ways.
  const std::string client = "192.168.1." + std::to_string(100 + services % 100);
  // New flows take SNAT ports: a few thousand keep clear of running out.
  tcCase(fromDev, "tc_from_dev", "NodePort TCP, new flow (SYN)", std::min<size_t>(runs, 2000), [&](size_t i) {
    return testing::buildPacket(tcp(client, static_cast<uint16_t>(1024 + i), "192.168.1.1", 30080, testing::kTcpSyn));
  });
  auto syn = testing::buildPacket(tcp(client, 999, "192.168.1.1", 30080, testing::kTcpSyn));
  auto first = bench.tcRun(fromDev, syn);
  auto forward = testing::decodePacket(first.frame);
  if (first.verdict != TC_ACT_REDIRECT || !forward) throw std::runtime_error("the NodePort SYN was not redirected");
  auto ack = testing::buildPacket(tcp(client, 999, "192.168.1.1", 30080, testing::kTcpAck));
  tcCase(fromDev, "tc_from_dev", "NodePort TCP, established flow", runs, [&](size_t) { return ack; });
  auto reply = testing::buildPacket(tcp(forward->dst.toString(), forward->dport, forward->src.toString(),
                                        forward->sport, testing::kTcpAck));
  tcCase(fromDev, "tc_from_dev", "NodePort TCP, reply (backend to client)", runs, [&](size_t) { return reply; });
  auto other = testing::buildPacket(tcp(client, 40000, "192.168.1.1", 22, testing::kTcpAck));
  tcCase(fromDev, "tc_from_dev", "not a Service (node traffic)", runs, [&](size_t) { return other; });
  auto out = testing::buildPacket(tcp("192.168.1.1", 22, client, 40000, testing::kTcpAck));
  tcCase(loader::TcProgram::kToDevice, "tc_to_dev", "node traffic out", runs, [&](size_t) { return out; });

  // The cost of each load-balancing algorithm per new connection, beside random's: Service
  // 0 (10 backends) switched to each in turn, then back to random.
  const std::pair<uint8_t, const char*> algorithms[] = {
      {BPX_LB_RANDOM, "random"}, {BPX_LB_ROUND_ROBIN, "round-robin"}, {BPX_LB_MAGLEV, "maglev"}};
  for (size_t a = 0; a < std::size(algorithms); ++a) {
    const auto& [algorithm, name] = algorithms[a];
    bench.program(0, algorithm);
    std::string what = std::string("ClusterIP TCP, a new socket, ") + name;
    hook("connect4", what.c_str(), repeat([&](size_t) {
           return bench.sock(BPX_HARNESS_CONNECT4, vip.c_str(), 80, IPPROTO_TCP, bench.nextCookie++);
         }));
    const std::string lbClient = "192.168.1." + std::to_string(200 + a * 10 + services % 10);
    tcCase(fromDev, "tc_from_dev", std::string("NodePort TCP, new flow (SYN), ") + name, std::min<size_t>(runs, 1000),
           [&](size_t i) {
             return testing::buildPacket(
                 tcp(lbClient, static_cast<uint16_t>(1024 + i), "192.168.1.1", 30080, testing::kTcpSyn));
           });
  }
  // bpfproxy.io/metrics: the per-backend counter on top of the same paths.
  bench.program(0, BPX_LB_RANDOM, BPX_SVC_F_METRICS);
  hook("connect4", "ClusterIP TCP, a new socket, bpfproxy.io/metrics", repeat([&](size_t) {
         return bench.sock(BPX_HARNESS_CONNECT4, vip.c_str(), 80, IPPROTO_TCP, bench.nextCookie++);
       }));
  tcCase(fromDev, "tc_from_dev", "NodePort TCP, established flow, bpfproxy.io/metrics", runs,
         [&](size_t) { return ack; });
  bench.program(0, BPX_LB_RANDOM);
  return figures;
}

std::vector<size_t> parseSizes(const std::string& text) {
  std::vector<size_t> sizes;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) sizes.push_back(std::stoul(item));
  return sizes;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {1, 1000, 10000};
  size_t runs = 20000;
  std::string jsonPath, harnessObject, tcObject;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--services") sizes = parseSizes(argv[i + 1]);
    else if (flag == "--runs") runs = std::stoul(argv[i + 1]);
    else if (flag == "--json") jsonPath = argv[i + 1];
    else if (flag == "--harness-object") harnessObject = argv[i + 1];
    else if (flag == "--tc-object") tcObject = argv[i + 1];
    else {
      std::cerr << "usage: bpx_prog_bench [--services 1,1000,10000] [--runs N] [--json FILE] "
                   "[--harness-object FILE] [--tc-object FILE]\n";
      return 2;
    }
  }
  std::string why;
  if (!testing::bpfTestsPossible(&why) || !testing::enterTcTestNamespace(&why)) {
    std::cerr << "bpx_prog_bench: cannot run here: " << why << "\n";
    return 1;
  }
  try {
    Bench bench;
    if (auto error = bench.open(harnessObject, tcObject); !error.empty()) {
      std::cerr << "bpx_prog_bench: " << error << "\n";
      return 1;
    }
    std::vector<Figure> all;
    for (size_t size : sizes) {
      bench.grow(size);
      auto figures = measure(bench, size, runs);
      all.insert(all.end(), figures.begin(), figures.end());
    }
    std::printf("%-12s %-58s %8s %10s %16s\n", "PROGRAM", "CASE", "SERVICES", "NS/RUN", "P10-P90");
    for (const auto& f : all)
      std::printf("%-12s %-58s %8zu %10.0f %7.0f-%-8.0f\n", f.program.c_str(), f.what.c_str(), f.services,
                  f.median, f.p10, f.p90);
    if (!jsonPath.empty()) {
      std::ofstream json(jsonPath);
      json << "[\n";
      for (size_t i = 0; i < all.size(); ++i) {
        const auto& f = all[i];
        json << "  {\"program\": \"" << f.program << "\", \"case\": \"" << f.what << "\", \"services\": "
             << f.services << ", \"ns_median\": " << f.median << ", \"ns_p10\": " << f.p10
             << ", \"ns_p90\": " << f.p90 << ", \"runs\": " << f.runs << "}" << (i + 1 < all.size() ? "," : "")
             << "\n";
      }
      json << "]\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "bpx_prog_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
