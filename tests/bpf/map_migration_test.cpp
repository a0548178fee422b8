// Upgrading pinned maps to a newer layout in place: a synthetic older layout of the service
// map (bpx_svc "v0": no generation, flags or affinity) and the real older layouts of other
// maps (loader/map_converters.cpp) are converted entry by entry, the attached programs
// switch to the converted maps, and the old pins go.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <doctest/doctest.h>
#include <unistd.h>

#include <time.h>

#include <cstring>
#include <filesystem>
#include <map>

#include "base/unique_fd.h"
#include "controller/sync/reconciler.h"
#include "loader/socket_lb_loader.h"
#include "maps/bpf_datapath_writer.h"
#include "maps/datapath_maps.h"
#include "maps/datapath_snapshot.h"
#include "maps/map_names.h"
#include "maps/map_types.h"
#include "maps/snapshot_reader.h"
#include "sock_lb_harness.skel.h"
#include "tests/bpf/sock_lb_harness.h"
#include "tests/support/frontend_specs.h"
#include "tests/support/require_ok.h"
#include "tests/support/skip.h"
#include "tests/support/socket_lb_setup.h"
#include "tests/support/test_maps.h"
#include "tests/support/test_bpffs.h"
#include "tests/support/test_cgroup.h"

using namespace bpfproxy;
using testing::smallSocketLb;
using testing::tcpFrontendKey;

namespace {

// The synthetic older layout: what bpx_svc_value might have been before a bump.
struct OldServiceValue {
  uint32_t svc_id;
  uint16_t backend_count;
  uint16_t pad;
};
constexpr const char* kOldServiceMap = "bpx_svc_v0";

std::vector<loader::MapConverter> oldServiceConverter() {
  return {{kOldServiceMap, maps::kServiceMap, sizeof(bpx_svc_key), sizeof(OldServiceValue),
           [](const uint8_t* oldKey, const uint8_t* oldValue, uint8_t* newKey, uint8_t* newValue) {
             OldServiceValue old;
             std::memcpy(&old, oldValue, sizeof(old));
             if (old.svc_id == 0) return false;  // the old layout's "unused" marker
             bpx_svc_value value{};
             value.svc_id = old.svc_id;
             value.generation = 0;  // bank 0: where the old layout kept its only slots
             value.backend_count = old.backend_count;
             value.flags = BPX_SVC_F_CLUSTER_IP;
             std::memcpy(newKey, oldKey, sizeof(bpx_svc_key));
             std::memcpy(newValue, &value, sizeof(value));
             return true;
           }}};
}

// Replaces the pinned service map by one of the older layout holding `count` frontends
// (and one the converter drops), and stamps the layout marker one version back.
void stampLayoutVersion(const std::string& pinDir, uint32_t version) {
  auto layout = maps::LayoutMap::open(pinDir, maps::kLayoutMap);
  REQUIRE_OK(layout);
  REQUIRE(layout->update(uint32_t{0}, bpx_layout{BPX_LAYOUT_MAGIC, version}) == 0);
}

void ageServiceMap(const std::string& pinDir, uint16_t count) {
  auto old = testing::createMap<bpx_svc_key, OldServiceValue>(BPF_MAP_TYPE_HASH, kOldServiceMap);
  for (uint16_t port = 1; port <= count + 1; ++port) {
    OldServiceValue value{port <= count ? port : 0u, 2, 0};
    REQUIRE(old.update(tcpFrontendKey(port), value) == 0);
  }
  testing::pinInPlaceOf(old, pinDir, kOldServiceMap, maps::kServiceMap);
  stampLayoutVersion(pinDir, BPX_LAYOUT_VERSION - 1);
}

// The ids of the maps the program behind a pinned link uses.
std::vector<uint32_t> mapsOfLinkedProgram(const std::string& linkPin) {
  UniqueFd link(bpf_obj_get(linkPin.c_str()));
  REQUIRE(link.valid());
  bpf_link_info linkInfo{};
  uint32_t length = sizeof(linkInfo);
  REQUIRE(bpf_link_get_info_by_fd(link.get(), &linkInfo, &length) == 0);
  UniqueFd program(bpf_prog_get_fd_by_id(linkInfo.prog_id));
  REQUIRE(program.valid());
  std::vector<uint32_t> ids(64);
  bpf_prog_info info{};
  info.nr_map_ids = ids.size();
  info.map_ids = reinterpret_cast<uint64_t>(ids.data());
  length = sizeof(info);
  REQUIRE(bpf_prog_get_info_by_fd(program.get(), &info, &length) == 0);
  ids.resize(info.nr_map_ids);
  return ids;
}

uint32_t mapId(const std::string& pin) {
  auto map = maps::MapFd::openPinned(pin);
  REQUIRE_OK(map);
  bpf_map_info info{};
  uint32_t length = sizeof(info);
  REQUIRE(bpf_map_get_info_by_fd(map->fd(), &info, &length) == 0);
  return info.id;
}

bool hasNote(const loader::LoadReport& report, const std::string& text) {
  for (const auto& note : report.notes)
    if (note.find(text) != std::string::npos) return true;
  return false;
}

// A map of an older layout pinned under `name` in place of this build's `current`, holding
// `entries` (key and value bytes as the older agent wrote them).
template <typename Key, typename Value>
void pinOlderMap(const std::string& pinDir, bpf_map_type type, const char* name, const char* current,
                 const std::vector<std::pair<Key, Value>>& entries) {
  auto old = testing::createMap<Key, Value>(type, name);
  for (const auto& [k, v] : entries) REQUIRE(old.update(k, v) == 0);
  testing::pinInPlaceOf(old, pinDir, name, current);
}

// bpx_svc_v1's key: bpx_svc_key with its last byte a zero pad (v2: the scope).
struct ServiceKeyV1 {
  uint8_t addr[16];
  uint16_t port;
  uint8_t proto;
  uint8_t pad;
};
// bpx_svc_v1's (and v2's) value: bpx_svc_value's first 16 bytes (v3 added the
// load-balancing algorithm, its table and the round-robin position).
struct ServiceValueV1 {
  uint8_t bytes[16];
};

// bpx_affinity_v1's key: the client's network namespace (v2: its address).
struct AffinityKeyV1 {
  uint64_t netns_cookie;
  uint32_t svc_id;
  uint32_t pad;
};

}  // namespace

TEST_CASE("migration: an older agent's bpx_svc_v1 and bpx_affinity_v1 are converted by the built-in "
          "converters and adopted without a rewrite") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  using testing::backendSpec;
  loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), nullptr));  // the built-in converters

  // What an agent programs: a ClusterIP with affinity over two backends, its refusing
  // wildcard, an IPv6 UDP frontend. Then the same entries, as the older layout held them.
  auto sticky = testing::frontendSpec("10.32.0.10", 80, BPX_PROTO_TCP, BPX_SVC_F_CLUSTER_IP | BPX_SVC_F_AFFINITY,
                                      {backendSpec("10.200.0.2", 8080, BPX_PROTO_TCP),
                                       backendSpec("10.200.0.3", 8080, BPX_PROTO_TCP)});
  sticky.affinityTimeoutSeconds = 600;
  auto dns = testing::frontendSpec("fd00:32::a", 53, BPX_PROTO_UDP, BPX_SVC_F_CLUSTER_IP,
                                   {backendSpec("fd00:200::5", 53, BPX_PROTO_UDP)});
  dns.name = "dns";
  const controller::ServiceKey web{"default", "svc"}, dnsKey{"default", "dns"};
  std::vector<std::pair<bpx_svc_key, bpx_svc_value>> programmed;
  {
    maps::DatapathMaps maps;
    REQUIRE_OK(maps.open(pins.path()));
    maps::BpfDatapathWriter writer(maps);
    controller::Reconciler reconciler(writer, 1024, 1024);
    REQUIRE(reconciler.apply(web, {sticky, testing::wildcardSpec("10.32.0.10")}).errors.empty());
    REQUIRE(reconciler.apply(dnsKey, {dns}).errors.empty());
    maps.services.forEach([&](const bpx_svc_key& k, const bpx_svc_value& v) {
      programmed.push_back({k, v});
      return true;
    });
  }
  REQUIRE(programmed.size() == 3);
  bpx_svc_value stickyValue{};
  for (const auto& [k, v] : programmed)
    if (k.port == htons(80)) stickyValue = v;
  REQUIRE(stickyValue.affinity_timeout == 600);

  std::vector<std::pair<ServiceKeyV1, ServiceValueV1>> services;
  for (const auto& [k, v] : programmed) {
    REQUIRE(k.scope == 0);
    REQUIRE(v.algorithm == BPX_LB_RANDOM);  // what a v1 agent's frontends did
    ServiceKeyV1 old{};
    std::memcpy(&old, &k, sizeof(old));
    ServiceValueV1 oldValue{};
    std::memcpy(&oldValue, &v, sizeof(oldValue));
    services.push_back({old, oldValue});
  }
  ServiceKeyV1 notV1{};  // a nonzero pad: no v1 agent wrote it; dropped, not given a scope
  notV1.port = htons(9);
  notV1.pad = 1;
  services.push_back({notV1, services.front().second});
  pinOlderMap(pins.path(), BPF_MAP_TYPE_HASH, "bpx_svc_v1", maps::kServiceMap, services);
  const uint64_t podNetns = 0x1122334455667788ull;
  const bpx_client_affinity_value chosen{7, stickyValue.generation, 123456789ull};
  pinOlderMap(pins.path(), BPF_MAP_TYPE_LRU_HASH, "bpx_affinity_v1", maps::kClientAffinityMap,
              std::vector<std::pair<AffinityKeyV1, bpx_client_affinity_value>>{
                  {{podNetns, stickyValue.svc_id, 0}, chosen}});

  auto report = loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), nullptr));
  CHECK(hasNote(report, "converting bpx_svc_v1 into " + std::string(maps::kServiceMap)));  // through v2
  CHECK(hasNote(report, "converted 3 entries of bpx_svc_v1 into " + std::string(maps::kServiceMap) +
                            ", 1 the converter dropped"));
  CHECK(hasNote(report, "converted 1 entries of bpx_affinity_v1 into bpx_affinity_v2"));
  for (const auto& program : report.programs) CHECK(program.updated);  // never detached: traffic flows
  CHECK_FALSE(std::filesystem::exists(maps::mapPinPath(pins.path(), "bpx_svc_v1")));
  CHECK_FALSE(std::filesystem::exists(maps::mapPinPath(pins.path(), "bpx_affinity_v1")));

  maps::DatapathMaps maps;
  REQUIRE_OK(maps.open(pins.path()));
  for (const auto& [k, v] : programmed) {
    bpx_svc_value value{};
    REQUIRE(maps.services.lookup(k, value) == 0);
    CHECK(value.svc_id == v.svc_id);
    CHECK(value.generation == v.generation);
    CHECK(value.backend_count == v.backend_count);
    CHECK(value.flags == v.flags);
    CHECK(value.affinity_timeout == v.affinity_timeout);
    CHECK(value.algorithm == BPX_LB_RANDOM);
    CHECK(value.table_size == 0);
  }
  size_t entries = 0;
  maps.services.forEach([&](const bpx_svc_key&, const bpx_svc_value&) {
    ++entries;
    return true;
  });
  CHECK(entries == programmed.size());
  // The pod's choice, under the stand-in the socket hooks use until its address is known.
  bpx_client_affinity_key standIn{};
  standIn.client32[0] = htonl(BPX_CLIENT_NETNS_PREFIX);
  standIn.client32[2] = htonl(0x11223344);
  standIn.client32[3] = htonl(0x55667788);
  standIn.svc_id = stickyValue.svc_id;
  bpx_client_affinity_value kept{};
  REQUIRE(maps.clientAffinity.lookup(standIn, kept) == 0);
  CHECK(kept.backend_id == chosen.backend_id);
  CHECK(kept.generation == chosen.generation);
  CHECK(kept.last_used_ns == chosen.last_used_ns);
  auto used = mapsOfLinkedProgram(maps::linksDir(pins.path()) + "/bpx_connect4");
  CHECK(std::find(used.begin(), used.end(), mapId(maps::mapPinPath(pins.path(), maps::kServiceMap))) != used.end());

  // A restarted agent adopts the converted entries as programmed: the same Services write nothing.
  maps::BpfDatapathWriter writer(maps);
  controller::Reconciler reconciler(writer, 1024, 1024);
  REQUIRE(reconciler.adopt(maps::readSnapshot(maps)).errors.empty());
  CHECK(reconciler.frontendCount() == 3);
  CHECK(reconciler.backendCount() == 3);
  CHECK(reconciler.apply(web, {sticky, testing::wildcardSpec("10.32.0.10")}).frontendsChanged == 0);
  CHECK(reconciler.apply(dnsKey, {dns}).frontendsChanged == 0);
}

TEST_CASE("migration: an older layout's service map is converted in place and the programs switch to it") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  auto converters = oldServiceConverter();
  loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), &converters));
  ageServiceMap(pins.path(), 10);
  REQUIRE(std::filesystem::exists(maps::mapPinPath(pins.path(), kOldServiceMap)));  // the fault is in place
  REQUIRE_FALSE(std::filesystem::exists(maps::mapPinPath(pins.path(), maps::kServiceMap)));

  auto report = loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), &converters));
  CHECK(hasNote(report, "converting bpx_svc_v0 into " + std::string(maps::kServiceMap)));
  CHECK(hasNote(report, "converted 10 entries of bpx_svc_v0"));
  CHECK(hasNote(report, "1 the converter dropped"));
  for (const auto& program : report.programs) CHECK(program.updated);  // links updated, never detached

  CHECK_FALSE(std::filesystem::exists(maps::mapPinPath(pins.path(), kOldServiceMap)));
  maps::DatapathMaps maps;
  REQUIRE_OK(maps.open(pins.path()));
  for (uint16_t port = 1; port <= 10; ++port) {
    bpx_svc_value value{};
    REQUIRE(maps.services.lookup(tcpFrontendKey(port), value) == 0);
    CHECK(value.svc_id == port);
    CHECK(value.backend_count == 2);
    CHECK(value.flags == BPX_SVC_F_CLUSTER_IP);
  }
  bpx_svc_value dropped{};
  CHECK(maps.services.lookup(tcpFrontendKey(11), dropped) == -ENOENT);
  bpx_layout layout{};
  REQUIRE(maps.layout.lookup(uint32_t{0}, layout) == 0);
  CHECK(layout.version == BPX_LAYOUT_VERSION);

  // The attached programs look up the converted map, not the old one.
  auto used = mapsOfLinkedProgram(maps::linksDir(pins.path()) + "/bpx_connect4");
  auto converted = mapId(maps::mapPinPath(pins.path(), maps::kServiceMap));
  CHECK(std::find(used.begin(), used.end(), converted) != used.end());
}

TEST_CASE("migration: bpx_svc_v2 (before load-balancing algorithms) is converted by the built-in converter") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), nullptr));
  struct ServiceValueV2 {  // the v2 layout, as an agent of layout v1 pinned it
    uint32_t svc_id, generation;
    uint16_t backend_count, flags;
    uint32_t affinity_timeout;
  };
  {
    auto old = testing::createMap<bpx_svc_key, ServiceValueV2>(BPF_MAP_TYPE_HASH, "bpx_svc_v2");
    for (uint16_t port = 1; port <= 3; ++port)
      REQUIRE(old.update(tcpFrontendKey(port),
                         ServiceValueV2{port, 40u + port, 2, BPX_SVC_F_CLUSTER_IP | BPX_SVC_F_AFFINITY, 10800}) == 0);
    testing::pinInPlaceOf(old, pins.path(), "bpx_svc_v2", maps::kServiceMap);
    stampLayoutVersion(pins.path(), 1);
  }
  auto report = loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), nullptr));
  CHECK(hasNote(report, "converted 3 entries of bpx_svc_v2"));
  CHECK_FALSE(std::filesystem::exists(maps::mapPinPath(pins.path(), "bpx_svc_v2")));
  maps::DatapathMaps maps;
  REQUIRE_OK(maps.open(pins.path()));
  for (uint16_t port = 1; port <= 3; ++port) {
    bpx_svc_value value{};
    REQUIRE(maps.services.lookup(tcpFrontendKey(port), value) == 0);
    CHECK(value.svc_id == port);
    CHECK(value.generation == 40u + port);
    CHECK(value.backend_count == 2);
    CHECK(value.flags == (BPX_SVC_F_CLUSTER_IP | BPX_SVC_F_AFFINITY));
    CHECK(value.affinity_timeout == 10800);
    CHECK(value.algorithm == BPX_LB_RANDOM);  // what every v2 frontend did
    CHECK(value.table_size == 0);
  }
}

TEST_CASE("migration: an older layout's map without a converter is refused, nothing touched") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  auto converters = oldServiceConverter();
  loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), &converters));
  ageServiceMap(pins.path(), 3);
  std::vector<loader::MapConverter> none;
  std::string message;
  try {
    loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), &none));
  } catch (const loader::LoaderError& failure) {
    message = failure.what();
  }
  CHECK(message.find("bpx_svc_v0 is of an older layout") != std::string::npos);
  CHECK(message.find("no converter") != std::string::npos);
  CHECK(std::filesystem::exists(maps::mapPinPath(pins.path(), kOldServiceMap)));
  CHECK_FALSE(std::filesystem::exists(maps::mapPinPath(pins.path(), maps::kServiceMap)));
}

TEST_CASE("migration: a newer layout's map is refused: a downgrade never empties a map") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), nullptr));
  auto newer = std::string(maps::kServiceMap);
  newer = newer.substr(0, newer.rfind("_v")) + "_v" + std::to_string(loader::splitMapVersion(newer).second + 1);
  {  // bpffs cannot rename: pin the map under the newer name, unpin the current one
    auto map = maps::MapFd::openPinned(maps::mapPinPath(pins.path(), maps::kServiceMap));
    REQUIRE_OK(map);
    REQUIRE(bpf_obj_pin(map->fd(), maps::mapPinPath(pins.path(), newer).c_str()) == 0);
    REQUIRE(unlink(maps::mapPinPath(pins.path(), maps::kServiceMap).c_str()) == 0);
  }
  std::string message;
  try {
    loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), nullptr));
  } catch (const loader::LoaderError& failure) {
    message = failure.what();
  }
  CHECK(message.find(newer + " is of a newer layout") != std::string::npos);
}

TEST_CASE("migration: map names split into base and version") {
  CHECK(loader::splitMapVersion("bpx_svc_v12") == std::pair<std::string, int>{"bpx_svc", 12});
  CHECK(loader::splitMapVersion("bpx_svc_v0") == std::pair<std::string, int>{"bpx_svc", 0});
  CHECK(loader::splitMapVersion("bpx_svc") == std::pair<std::string, int>{"bpx_svc", -1});
  CHECK(loader::splitMapVersion("bpx_svc_vx") == std::pair<std::string, int>{"bpx_svc_vx", -1});
}

namespace {

uint64_t monotonicNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);  // bpf_ktime_get_ns's clock
  return static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
}

// The socket-hook logic (tests/bpf/sock_lb_harness.bpf.c) on the pinned maps, as they are.
struct PinnedHarness {
  sock_lb_harness* skeleton = nullptr;
  explicit PinnedHarness(const std::string& pinDir) {
    std::string pinRoot = maps::mapsDir(pinDir);
    LIBBPF_OPTS(bpf_object_open_opts, options, .pin_root_path = pinRoot.c_str());
    skeleton = sock_lb_harness::open(&options);
    REQUIRE(skeleton);
    bpf_map* map;
    bpf_object__for_each_map(map, skeleton->obj) {  // reuse needs the pinned sizes
      auto pinned = maps::MapFd::openPinned(maps::mapPinPath(pinDir, bpf_map__name(map)));
      maps::MapFd::Info info;
      if (pinned && pinned->info(info) == 0) bpf_map__set_max_entries(map, info.maxEntries);
    }
    REQUIRE(sock_lb_harness::load(skeleton) == 0);
  }
  ~PinnedHarness() { sock_lb_harness::destroy(skeleton); }
  // The backend a TCP connect to vip:port from network namespace `netns` gets.
  std::string connect(const char* vip, uint16_t port, uint64_t netns, uint64_t socket) {
    bpx_harness_case in{}, out{};
    in.hook = BPX_HARNESS_CONNECT4;
    in.protocol = IPPROTO_TCP;
    in.cookie = socket;
    in.netns_cookie = netns;
    in.ip4 = testing::ip(vip).v4NetworkOrder();
    in.port = htons(port);
    LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = &in, .data_out = &out, .data_size_in = sizeof(in),
                .data_size_out = sizeof(out));
    REQUIRE(bpf_prog_test_run_opts(bpf_program__fd(skeleton->progs.sock_lb_harness), &run) == 0);
    return formatEndpoint(IpAddress::fromV4(out.ip4), ntohs(static_cast<uint16_t>(out.port)));
  }
};

}  // namespace

TEST_CASE("migration: converted bpx_affinity_v1 entries are what the socket hooks use: pods keep their backends") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), nullptr));  // this build's converters

  // A sticky Service of three backends, programmed as the agent would.
  std::map<uint32_t, std::string> backendById;
  uint32_t svcId = 0;
  {
    maps::DatapathMaps maps;
    REQUIRE_OK(maps.open(pins.path()));
    maps::BpfDatapathWriter writer(maps);
    controller::Reconciler reconciler(writer, 1024, 1024);
    std::vector<controller::BackendSpec> backends;
    for (const char* address : {"10.200.0.2", "10.200.0.3", "10.200.0.4"})
      backends.push_back(testing::backendSpec(address, 80, BPX_PROTO_TCP));
    auto sticky = testing::frontendSpec("10.32.0.141", 80, BPX_PROTO_TCP, BPX_SVC_F_CLUSTER_IP, std::move(backends));
    sticky.flags |= BPX_SVC_F_AFFINITY;
    sticky.affinityTimeoutSeconds = 10800;
    REQUIRE(reconciler.apply({"default", "sticky"}, {sticky}).errors.empty());
    maps.backends.forEach([&](const uint32_t& id, const bpx_backend& backend) {
      backendById[id] = formatEndpoint(maps::addressOf(backend.addr), ntohs(backend.port));
      return true;
    });
    bpx_svc_value value{};
    bpx_svc_key key{};
    key.addr32[2] = htonl(0xffff);
    key.addr32[3] = testing::ip("10.32.0.141").v4NetworkOrder();
    key.port = htons(80);
    key.proto = BPX_PROTO_TCP;
    REQUIRE(maps.services.lookup(key, value) == 0);
    svcId = value.svc_id;
  }
  REQUIRE(backendById.size() == 3);

  // The v1 map as an agent of 8f2f50d left it: six pods, two on each backend.
  std::map<uint64_t, std::string> expected;  // netns cookie -> its backend
  std::vector<std::pair<AffinityKeyV1, bpx_client_affinity_value>> entries;
  auto backend = backendById.begin();
  for (uint64_t netns = 5001; netns <= 5006; ++netns, ++backend) {
    if (backend == backendById.end()) backend = backendById.begin();
    AffinityKeyV1 key{netns | (uint64_t{7} << 40), svcId, 0};  // a cookie with high bits set
    entries.push_back({key, {backend->first, 0, monotonicNs()}});
    expected[key.netns_cookie] = backend->second;
  }
  pinOlderMap(pins.path(), BPF_MAP_TYPE_LRU_HASH, "bpx_affinity_v1", maps::kClientAffinityMap, entries);
  REQUIRE(std::filesystem::exists(maps::mapPinPath(pins.path(), "bpx_affinity_v1")));  // the fault is in place

  auto report = loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), nullptr));
  CHECK(hasNote(report, "converting bpx_affinity_v1 into " + std::string(maps::kClientAffinityMap)));
  CHECK(hasNote(report, "converted 6 entries of bpx_affinity_v1"));
  for (const auto& program : report.programs) CHECK(program.updated);  // links updated, never detached
  CHECK_FALSE(std::filesystem::exists(maps::mapPinPath(pins.path(), "bpx_affinity_v1")));

  // Each entry is now keyed as the hooks key a namespace whose address they do not know.
  maps::DatapathMaps maps;
  REQUIRE_OK(maps.open(pins.path()));
  for (const auto& entry : expected) {  // no structured binding: clang 14 cannot capture one
    const uint64_t netns = entry.first;
    const std::string& backend = entry.second;
    CAPTURE(netns);
    bpx_client_affinity_key key{};
    key.client32[0] = htonl(BPX_CLIENT_NETNS_PREFIX);
    key.client32[2] = htonl(static_cast<uint32_t>(netns >> 32));
    key.client32[3] = htonl(static_cast<uint32_t>(netns));
    key.svc_id = svcId;
    bpx_client_affinity_value value{};
    REQUIRE(maps.clientAffinity.lookup(key, value) == 0);
    CHECK(backendById[value.backend_id] == backend);
  }

  // The socket hooks honour the converted entries: every pod reaches the backend it had.
  PinnedHarness hooks(pins.path());
  uint64_t socket = 1;
  for (const auto& entry : expected) {  // no structured binding: clang 14 cannot capture one
    const uint64_t netns = entry.first;
    const std::string& backend = entry.second;
    CAPTURE(netns);
    for (int i = 0; i < 3; ++i) CHECK(hooks.connect("10.32.0.141", 80, netns, socket++) == backend);
  }
  auto used = mapsOfLinkedProgram(maps::linksDir(pins.path()) + "/bpx_connect4");
  auto converted = mapId(maps::mapPinPath(pins.path(), maps::kClientAffinityMap));
  CHECK(std::find(used.begin(), used.end(), converted) != used.end());
}

namespace {

// bpx_tccfg_v1 as 7ea059c pinned it (48 bytes: no node_netns_cookie; flag 0x02 allowed
// externalIPs no node holds, which are now allowed unless EXTERNAL_IPS_NODE_ONLY).
struct TcConfig48 {
  uint32_t flags;
  uint16_t nodeportMin, nodeportMax, snatPortMin, snatPortMax;
  uint32_t optoutCount;
  uint8_t snatV4[16], snatV6[16];
};
static_assert(sizeof(TcConfig48) == 48);

// Replaces the pinned bpx_tccfg_v1 by an array of `valueSize`-byte values holding `entry`.
void pinTcConfigOfSize(const std::string& pinDir, uint32_t valueSize, const void* entry) {
  const auto pin = maps::mapPinPath(pinDir, maps::kTcConfigMap);
  REQUIRE(unlink(pin.c_str()) == 0);
  LIBBPF_OPTS(bpf_map_create_opts, createOptions);
  maps::MapFd aged(bpf_map_create(BPF_MAP_TYPE_ARRAY, maps::kTcConfigMap, 4, valueSize, 1, &createOptions));
  REQUIRE(aged.valid());
  uint32_t zero = 0;
  if (entry) REQUIRE(bpf_map_update_elem(aged.fd(), &zero, entry, BPF_ANY) == 0);
  REQUIRE(bpf_obj_pin(aged.fd(), pin.c_str()) == 0);
}

// Loads, replaces the pinned bpx_tccfg_v1 by the 48-byte layout holding `old`, loads again:
// the converted entry (and the load's report).
bpx_tc_config convertTcConfig(const TcConfig48& old, loader::LoadReport& report) {
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), nullptr));
  pinTcConfigOfSize(pins.path(), sizeof(old), &old);
  const auto pin = maps::mapPinPath(pins.path(), maps::kTcConfigMap);
  REQUIRE(testing::pinnedMapInfo(pin).valueSize == 48);  // the fault is in place

  report = loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), nullptr));
  auto converted = maps::TcConfigMap::open(pins.path(), maps::kTcConfigMap);
  REQUIRE_OK(converted);  // checks the converted map's value size too
  // The attached programs read the converted map.
  auto used = mapsOfLinkedProgram(maps::linksDir(pins.path()) + "/bpx_connect4");
  CHECK(std::find(used.begin(), used.end(), mapId(pin)) != used.end());
  bpx_tc_config config{};
  REQUIRE(converted->lookup(uint32_t{0}, config) == 0);
  return config;
}

}  // namespace

TEST_CASE("migration: bpx_tccfg_v1 of the 48-byte layout is converted in place, meaning kept") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  TcConfig48 old{};
  old.flags = BPX_TC_CFG_LOADED | BPX_TC_CFG_ALLOW_EXTERNAL_CLUSTER_IP;  // externalIPs: this node's only
  old.nodeportMin = 30000;
  old.nodeportMax = 32767;
  old.snatPortMin = 61000;
  old.snatPortMax = 65000;
  old.optoutCount = 3;
  std::memcpy(old.snatV4, testing::ip("192.168.1.1").bytes().data(), 16);
  std::memcpy(old.snatV6, testing::ip("fd00:1::1").bytes().data(), 16);

  loader::LoadReport report;
  auto config = convertTcConfig(old, report);
  CHECK(hasNote(report, "converting " + std::string(maps::kTcConfigMap) + " of value size 48 in place to 56"));
  CHECK(hasNote(report, "converted 1 entries of " + std::string(maps::kTcConfigMap) + " in place"));
  CHECK(config.flags == (BPX_TC_CFG_LOADED | BPX_TC_CFG_ALLOW_EXTERNAL_CLUSTER_IP | BPX_TC_CFG_EXTERNAL_IPS_NODE_ONLY));
  CHECK(config.nodeport_min == 30000);
  CHECK(config.nodeport_max == 32767);
  CHECK(config.snat_port_min == 61000);
  CHECK(config.snat_port_max == 65000);
  CHECK(config.optout_count == 3);
  CHECK(std::memcmp(config.snat_v4, old.snatV4, 16) == 0);
  CHECK(std::memcmp(config.snat_v6, old.snatV6, 16) == 0);
  CHECK(config.node_netns_cookie == 0);  // bind protection everywhere, as before

  old.flags |= 0x02;  // the old "externalIPs no node holds are served"
  config = convertTcConfig(old, report);
  CHECK(config.flags == (BPX_TC_CFG_LOADED | BPX_TC_CFG_ALLOW_EXTERNAL_CLUSTER_IP));
}

TEST_CASE("migration: a pin whose sizes changed without a bump and no converter knows is refused") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), nullptr));
  pinTcConfigOfSize(pins.path(), 40, nullptr);
  const auto pin = maps::mapPinPath(pins.path(), maps::kTcConfigMap);
  std::string message;
  try {
    loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path(), nullptr));
  } catch (const loader::LoaderError& failure) {
    message = failure.what();
  }
  CHECK(message.find("has key/value size 4/40") != std::string::npos);
  CHECK(message.find("without a version bump") != std::string::npos);
  CHECK(testing::pinnedMapInfo(pin).valueSize == 40);  // nothing touched
}
