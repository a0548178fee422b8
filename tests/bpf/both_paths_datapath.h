#pragma once
// The real programs and maps of both paths in one pin directory, programmed by the
// production model and reconciler: the socket hooks in the XDP harness, the TC programs
// under BPF_PROG_TEST_RUN. Used by the churn model test and the load-balancing tests.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <doctest/doctest.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "controller/model/model.h"
#include "controller/node/tc_state.h"
#include "controller/sync/reconciler.h"
#include "loader/socket_lb_loader.h"
#include "loader/tc_loader.h"
#include "maps/bpf_datapath_writer.h"
#include "maps/datapath_maps.h"
#include "maps/map_names.h"
#include "maps/snapshot_reader.h"
#include "maps/tc_maps.h"
#include "sock_lb_harness.skel.h"
#include "tests/bpf/sock_lb_harness.h"
#include "tests/model/reference_model.h"
#include "tests/support/packet_builder.h"
#include "tests/support/require_ok.h"
#include "tests/support/test_bpffs.h"

namespace bpfproxy::modeltest {


inline IpAddress ip(const char* text) { return *IpAddress::parse(text); }

inline const IpAddress kBypassPod = ip("10.200.0.30");

// The address of the socket-path client in network namespace `netns`: 1 is the node.
inline IpAddress socketClient(uint64_t netns) {
  return netns == 1 ? ip("192.168.1.1") : IpAddress::fromV4(htonl(0x0ac80014 + static_cast<uint32_t>(netns)));
}

inline NodeView testNode() {
  NodeView node;
  node.addresses = {ip("192.168.1.1")};
  node.serviceCidrs = {*Cidr::parse("10.32.0.0/24")};
  return node;
}

struct Observed {
  Outcome outcome = Outcome::kPass;
  Backend backend;
  IpAddress src;  // TC: the source the packet leaves with
  std::string toString() const {
    return modeltest::toString(outcome) + (outcome == Outcome::kTranslate ? " to " + backend.toString() : "");
  }
};

// The real programs and maps, programmed by the production model and reconciler.
class ChurnDatapath {
public:
  // `backends` sizes the backend and slot maps (Maglev tables take slots).
  explicit ChurnDatapath(uint32_t backends = 1024) : backends_(backends) {
    loader::MapSizes sizes;
    sizes.servicePorts = 1024;
    sizes.backends = backends;
    sizes.clientAffinity = sizes.conntrack = 4096;
    tc_ = std::make_unique<loader::TcDatapath>(pins_.path(), sizes);
    std::string pinRoot = maps::mapsDir(pins_.path());
    LIBBPF_OPTS(bpf_object_open_opts, options, .pin_root_path = pinRoot.c_str());
    harness_ = sock_lb_harness::open(&options);
    REQUIRE(harness_);
    loader::applyMapSizes(harness_->obj, sizes);
    REQUIRE(sock_lb_harness::load(harness_) == 0);
    REQUIRE_OK(maps_.open(pins_.path()));
    REQUIRE_OK(tcMaps_.open(pins_.path()));
    writer_ = std::make_unique<maps::BpfDatapathWriter>(maps_);
    model_.serviceCidrs = node_.serviceCidrs;
    model_.nodeName = node_.name;
    reset();
  }
  ~ChurnDatapath() { sock_lb_harness::destroy(harness_); }

  const NodeView& node() const { return node_; }

  // An agent starting on empty maps: every hash map emptied (the harness's per-socket
  // state too), a new reconciler.
  void reset() {
    int sockets = bpf_map__fd(harness_->maps.harness_sock_state);
    uint64_t cookie = 0;
    while (bpf_map_get_next_key(sockets, nullptr, &cookie) == 0) REQUIRE(bpf_map_delete_elem(sockets, &cookie) == 0);
    for (const auto& entry : std::filesystem::directory_iterator(maps::mapsDir(pins_.path()))) {
      int fd = bpf_obj_get(entry.path().c_str());
      REQUIRE(fd >= 0);
      bpf_map_info info{};
      uint32_t length = sizeof(info);
      REQUIRE(bpf_map_get_info_by_fd(fd, &info, &length) == 0);
      if (info.type != BPF_MAP_TYPE_ARRAY && info.type != BPF_MAP_TYPE_PERCPU_ARRAY) {
        std::vector<uint8_t> key(info.key_size);
        while (bpf_map_get_next_key(fd, nullptr, key.data()) == 0) REQUIRE(bpf_map_delete_elem(fd, key.data()) == 0);
      }
      close(fd);
    }
    reconciler_ = std::make_unique<controller::Reconciler>(*writer_, 1024, backends_);
    state_ = std::make_unique<controller::TcMapState>(tcMaps_);
    rangesByService_.clear();
    auto written = state_->setNode({}, {{node_.addresses.front(), static_cast<int>(if_nametoindex("eth0")), true}},
                                   node_.serviceCidrs);
    REQUIRE_OK(written);
    REQUIRE_OK(state_->setBypass({{"default/mesh", {kBypassPod}, 4242}}));
    // The socket clients' addresses by network namespace, as the agent writes them.
    int addresses = bpf_obj_get(maps::mapPinPath(pins_.path(), BPX_STRINGIFY(BPX_MAP_NETNS_ADDR)).c_str());
    REQUIRE(addresses >= 0);
    for (uint64_t netns = 1; netns <= 3; ++netns) {
      bpx_netns_addr value{};
      std::memcpy(value.v4, socketClient(netns).bytes().data(), 16);
      REQUIRE(bpf_map_update_elem(addresses, &netns, &value, BPF_ANY) == 0);
    }
    close(addresses);
  }

  // What the agent does for a dirty Service: the production model, the reconciler, and
  // the source ranges under the frontends' ids (as TcAgent::serviceSynced).
  std::string sync(const Cluster& cluster, const std::string& name) {
    controller::ServiceKey key{"default", name};
    std::vector<controller::FrontendSpec> frontends;
    if (auto service = cluster.services.find(name); service != cluster.services.end()) {
      std::vector<const EndpointSlice*> slices;
      for (const auto& [sliceName, slice] : cluster.slices)
        if (slice.serviceName() == name) slices.push_back(&slice);
      frontends = controller::buildServiceFrontends(service->second, slices, model_).frontends;
    }
    auto result = reconciler_->apply(key, frontends);
    if (!result.errors.empty()) return result.errors.front();
    std::set<uint32_t> withRanges;
    for (const auto& frontend : frontends) {
      if (!(frontend.flags & BPX_SVC_F_SOURCE_RANGES)) continue;
      if (auto id = reconciler_->serviceId(frontend.key)) {
        withRanges.insert(*id);
        if (auto written = state_->setSourceRanges(*id, frontend.sourceRanges); !written)
          return written.error().message;
      }
    }
    for (uint32_t id : rangesByService_[name])
      if (!withRanges.count(id))
        if (auto cleared = state_->setSourceRanges(id, {}); !cleared) return cleared.error().message;
    rangesByService_[name] = withRanges;
    return "";
  }

  // The agent's options for the model (--algorithm, --maglev-table-size).
  controller::ModelConfig& modelConfig() { return model_; }

  // A restarted agent: a new reconciler adopts what the pinned maps hold.
  void restartAgent() {
    reconciler_ = std::make_unique<controller::Reconciler>(*writer_, 1024, backends_);
    auto adopted = reconciler_->adopt(maps::readSnapshot(maps_));
    REQUIRE(adopted.errors.empty());
  }

  // Forgets every TC flow, as another node (or a node that lost its conntrack) would.
  void clearConntrack() {
    int fd = bpf_obj_get(maps::mapPinPath(pins_.path(), BPX_STRINGIFY(BPX_MAP_CT)).c_str());
    REQUIRE(fd >= 0);
    bpx_ct_key key{};
    while (bpf_map_get_next_key(fd, nullptr, &key) == 0) REQUIRE(bpf_map_delete_elem(fd, &key) == 0);
    close(fd);
  }

  const maps::DatapathMaps& maps() const { return maps_; }
  controller::Reconciler& reconciler() { return *reconciler_; }

  Observed run(const Flow& flow) { return flow.path == Path::kSocket ? runSocket(flow) : runTc(flow); }

private:
  Observed runSocket(const Flow& flow) {
    bpx_harness_case in{}, out{};
    in.hook = flow.sendmsg ? BPX_HARNESS_SENDMSG4 : BPX_HARNESS_CONNECT4;
    in.protocol = flow.proto == BPX_PROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP;
    in.cookie = flow.socket;
    in.netns_cookie = flow.netns;
    in.ip4 = flow.dst.v4NetworkOrder();
    in.port = htons(flow.dport);
    LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = &in, .data_out = &out, .data_size_in = sizeof(in),
                .data_size_out = sizeof(out));
    REQUIRE(bpf_prog_test_run_opts(bpf_program__fd(harness_->progs.sock_lb_harness), &options) == 0);
    Observed observed;
    if (out.verdict == 0) {
      REQUIRE(out.retval == -ECONNREFUSED);
      observed.outcome = Outcome::kRefuse;
      return observed;
    }
    Backend to{IpAddress::fromV4(out.ip4), ntohs(static_cast<uint16_t>(out.port))};
    if (to.address == flow.dst && to.port == flow.dport) return observed;
    observed.outcome = Outcome::kTranslate;
    observed.backend = to;
    observed.src = flow.src;
    return observed;
  }

  Observed runTc(const Flow& flow) {
    testing::PacketSpec spec;
    spec.src = flow.src;
    spec.dst = flow.dst;
    spec.sport = flow.sport;
    spec.dport = flow.dport;
    spec.proto = flow.proto;
    spec.payload = flow.proto == BPX_PROTO_UDP ? "hello" : "";
    auto in = testing::buildPacket(spec);
    std::vector<uint8_t> frame(in.size() + 256);
    __sk_buff context{};
    bool pod = flow.path == Path::kTcPod;
    context.ifindex = static_cast<int>(if_nametoindex(pod ? "br0" : "eth0"));
    LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = in.data(), .data_out = frame.data(),
                .data_size_in = static_cast<__u32>(in.size()), .data_size_out = static_cast<__u32>(frame.size()),
                .ctx_in = &context, .ctx_size_in = sizeof(context));
    auto program = pod ? loader::TcProgram::kFromPod : loader::TcProgram::kFromDevice;
    REQUIRE(bpf_prog_test_run_opts(tc_->programFd(program), &options) == 0);
    Observed observed;
    if (static_cast<int>(options.retval) == TC_ACT_SHOT) {
      observed.outcome = Outcome::kDrop;
      return observed;
    }
    frame.resize(options.data_size_out);
    auto packet = testing::decodePacket(frame);
    REQUIRE(packet);
    REQUIRE_MESSAGE(packet->checksumsValid, packet->checksumError);
    bool rst = packet->proto == BPX_PROTO_TCP && (packet->tcpFlags & testing::kTcpRst);
    bool unreachable = packet->proto == 1 && packet->sport == 3;  // ICMP type 3
    if ((rst || unreachable) && packet->dst == flow.src) {
      observed.outcome = Outcome::kRefuse;
      return observed;
    }
    observed.src = packet->src;
    if (packet->dst == flow.dst && packet->dport == flow.dport) return observed;
    observed.outcome = Outcome::kTranslate;
    observed.backend = {packet->dst, packet->dport};
    return observed;
  }

  testing::TestBpffsDir pins_;
  std::unique_ptr<loader::TcDatapath> tc_;
  sock_lb_harness* harness_ = nullptr;
  maps::DatapathMaps maps_;
  maps::TcMaps tcMaps_;
  std::unique_ptr<maps::BpfDatapathWriter> writer_;
  std::unique_ptr<controller::Reconciler> reconciler_;
  std::unique_ptr<controller::TcMapState> state_;
  std::map<std::string, std::set<uint32_t>> rangesByService_;
  NodeView node_ = testNode();
  controller::ModelConfig model_;
  uint32_t backends_;
};

}  // namespace bpfproxy::modeltest
