// The loader against the real kernel, on a cgroup and a pin directory the test owns:
// adoption across restarts, layout refusal, resizing, cgroup changes, cleanup.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <linux/bpf.h>

#include <filesystem>
#include <map>

#include "cli/ops_views.h"
#include "loader/socket_lb_loader.h"
#include "loader/tc_loader.h"
#include "maps/datapath_maps.h"
#include "maps/map_names.h"
#include "maps/map_open.h"
#include "maps/map_table.h"
#include "tests/support/require_ok.h"
#include "tests/support/skip.h"
#include "tests/support/socket_lb_setup.h"
#include "tests/support/test_bpffs.h"
#include "tests/support/test_cgroup.h"
#include "tests/support/test_maps.h"

using namespace bpfproxy;
using testing::smallSocketLb;
using testing::tcpFrontendKey;

namespace {

maps::DatapathMaps openMaps(const std::string& pinDir) {
  maps::DatapathMaps maps;
  REQUIRE_OK(maps.open(pinDir));
  return maps;
}

}  // namespace

TEST_CASE("loader: a second load adopts the pins: links updated in place, entries kept") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  auto first = loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path()));
  REQUIRE(first.programs.size() == loader::socketProgramNames().size());
  for (const auto& program : first.programs) CHECK_FALSE(program.updated);
  CHECK(cgroup.attachedPrograms(BPF_CGROUP_INET4_CONNECT) == 1);
  {
    auto maps = openMaps(pins.path());
    REQUIRE(maps.services.update(tcpFrontendKey(443), bpx_svc_value{7, 1, 0, 0, 0, 0, BPX_LB_RANDOM, 0, 0}) == 0);
  }

  auto second = loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path()));
  for (const auto& program : second.programs) CHECK(program.updated);
  CHECK(cgroup.attachedPrograms(BPF_CGROUP_INET4_CONNECT) == 1);  // replaced, not stacked
  CHECK(cgroup.attachedPrograms(BPF_CGROUP_INET6_GETPEERNAME) == 1);
  auto maps = openMaps(pins.path());
  bpx_svc_value value{};
  REQUIRE(maps.services.lookup(tcpFrontendKey(443), value) == 0);
  CHECK(value.svc_id == 7);
}

TEST_CASE("loader: an agent upgraded in place creates bpx_svcstat_v1 beside an older agent's pins") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path()));
  {
    auto maps = openMaps(pins.path());
    REQUIRE(maps.services.update(tcpFrontendKey(443), bpx_svc_value{7, 1, 0, 0, 0, 0, BPX_LB_RANDOM, 0, 0}) == 0);
  }
  // What an agent from before per-Service counters pinned: everything but this map.
  const std::string statsPin = maps::mapPinPath(pins.path(), maps::kServiceStatsMap);
  REQUIRE(std::filesystem::remove(statsPin));
  {
    auto older = openMaps(pins.path());  // the CLI still reads such a datapath
    CHECK_FALSE(older.serviceStats.valid());
  }

  auto upgraded = loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path()));
  for (const auto& program : upgraded.programs) CHECK(program.updated);
  CHECK(std::filesystem::exists(statsPin));
  auto maps = openMaps(pins.path());
  CHECK(maps.serviceStats.valid());
  bpx_svc_value value{};
  REQUIRE(maps.services.lookup(tcpFrontendKey(443), value) == 0);
  CHECK(value.svc_id == 7);
}

TEST_CASE("loader: pins of another layout version are refused with what to do") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path()));
  {
    auto maps = openMaps(pins.path());
    REQUIRE(maps.layout.update(uint32_t{0}, bpx_layout{BPX_LAYOUT_MAGIC, 99}) == 0);
  }
  std::string message;
  try {
    loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path()));
  } catch (const loader::LoaderError& error) {
    message = error.what();
  }
  CHECK(message.find("version 99") != std::string::npos);
  CHECK(message.find("bpfproxy cleanup --pin-dir " + pins.path()) != std::string::npos);
}

TEST_CASE("loader: a new map size migrates the entries into the resized map") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path()));
  {
    auto maps = openMaps(pins.path());
    for (uint16_t port = 1; port <= 10; ++port)
      REQUIRE(maps.services.update(tcpFrontendKey(port), bpx_svc_value{port, 1, 0, 0, 0, 0, BPX_LB_RANDOM, 0, 0}) == 0);
  }
  auto bigger = smallSocketLb(pins.path(), cgroup.path());
  bigger.mapSizes.servicePorts = 4096;
  auto report = loader::loadSocketLb(bigger);
  bool noted = false;
  for (const auto& note : report.notes) noted |= note.find("copied 10 entries") != std::string::npos;
  CHECK(noted);

  auto maps = openMaps(pins.path());
  maps::MapFd::Info info;
  REQUIRE(maps.services.info(info) == 0);
  CHECK(info.maxEntries == 4096);
  for (uint16_t port = 1; port <= 10; ++port) {
    bpx_svc_value value{};
    CHECK(maps.services.lookup(tcpFrontendKey(port), value) == 0);
    CHECK(value.svc_id == port);
  }
}

TEST_CASE("loader: moving to another cgroup detaches from the old one") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  testing::TestCgroup before;
  testing::TestCgroup after;
  loader::loadSocketLb(smallSocketLb(pins.path(), before.path()));
  auto report = loader::loadSocketLb(smallSocketLb(pins.path(), after.path()));
  for (const auto& program : report.programs) CHECK_FALSE(program.updated);
  CHECK(before.attachedPrograms(BPF_CGROUP_INET4_CONNECT) == 0);
  CHECK(after.attachedPrograms(BPF_CGROUP_INET4_CONNECT) == 1);
}

TEST_CASE("loader: cleanup detaches every program and removes the pins") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  loader::loadSocketLb(smallSocketLb(pins.path(), cgroup.path()));
  REQUIRE(cgroup.attachedPrograms(BPF_CGROUP_UDP4_RECVMSG) == 1);
  auto removed = loader::cleanupPins(pins.path());
  CHECK(removed.size() >= loader::socketProgramNames().size());
  CHECK(cgroup.attachedPrograms(BPF_CGROUP_INET4_CONNECT) == 0);
  CHECK(cgroup.attachedPrograms(BPF_CGROUP_UDP4_RECVMSG) == 0);
  CHECK_FALSE(std::filesystem::exists(pins.path()));
}

TEST_CASE("loader: both objects size every map from one table, so the TC programs reuse the pins") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  auto o = smallSocketLb(pins.path(), cgroup.path());
  o.mapSizes.clientAffinity = 2048;  // the TC object has the affinity map too
  o.mapSizes.conntrack = 512;
  loader::loadSocketLb(o);
  // A map the TC object sized otherwise would not match its pin, and the load would fail.
  std::unique_ptr<loader::TcDatapath> tc;
  CHECK_NOTHROW(tc = std::make_unique<loader::TcDatapath>(pins.path(), o.mapSizes));
  for (const auto& spec : maps::mapTable()) {
    if (!spec.sizedBy) continue;
    CAPTURE(spec.name);
    const auto info = testing::pinnedMapInfo(maps::mapPinPath(pins.path(), spec.name));
    CHECK(info.maxEntries == maps::maxEntries(spec, o.mapSizes));
  }
  // doctor goes over the same table: every map pinned, of its kind and layout.
  auto findings = cli::checkPinnedMaps(pins.path());
  CHECK(findings.size() == maps::mapTable().size());
  for (const auto& finding : findings) {
    CAPTURE(finding.check);
    CAPTURE(finding.detail);
    CHECK(finding.status == "ok");
  }
}

TEST_CASE("maps: a pin whose key or value size is not this build's is refused when opened") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  testing::TestBpffsDir pins;
  std::filesystem::create_directories(maps::mapsDir(pins.path()));
  auto pin = [&](const char* name, unsigned keySize, unsigned valueSize) {
    maps::MapFd map(bpf_map_create(BPF_MAP_TYPE_HASH, name, keySize, valueSize, 16, nullptr));
    REQUIRE(map.valid());
    REQUIRE(bpf_obj_pin(map.fd(), maps::mapPinPath(pins.path(), name).c_str()) == 0);
  };
  pin(maps::kServiceMap, sizeof(bpx_svc_key), sizeof(bpx_svc_value) + 8);  // an older layout
  pin(maps::kBackendMap, sizeof(uint32_t), sizeof(bpx_backend));
  pin(maps::kLayoutMap, sizeof(uint32_t), sizeof(bpx_layout));  // opened before the services

  auto wrong = maps::openMap(pins.path(), maps::kServiceMap);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message.find("values of " + std::to_string(sizeof(bpx_svc_value) + 8)) !=
        std::string::npos);
  CHECK(wrong.error().message.find("bpfproxy cleanup") != std::string::npos);
  CHECK(maps::openMap(pins.path(), maps::kBackendMap).ok());
  maps::DatapathMaps all;
  auto opened = all.open(pins.path());
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().message.find(maps::kServiceMap) != std::string::npos);

  // doctor goes over the whole table: which map is wrong, which is missing, which is fine.
  auto doctor = [&] {
    std::map<std::string, cli::Finding> findings;
    for (const auto& finding : cli::checkPinnedMaps(pins.path())) findings[finding.check] = finding;
    CHECK(findings.size() == maps::mapTable().size());
    return findings;
  };
  auto findings = doctor();
  const auto& service = findings[std::string("map: ") + maps::kServiceMap];
  CHECK(service.status == "fail");
  CHECK(service.detail.find("bpfproxy cleanup") != std::string::npos);
  CHECK(findings[std::string("map: ") + maps::kBackendMap].status == "ok");
  CHECK(findings[std::string("map: ") + maps::kStatsMap].detail == "not pinned");
  // The layout pin above is a hash; the table says array.
  CHECK(findings[std::string("map: ") + maps::kLayoutMap].detail.find("is of kind hash; this bpfproxy reads kind array") !=
        std::string::npos);

  // A pin of the right sizes but another kind is refused where the whole table is checked.
  const maps::MapSpec* backends = maps::findMapSpec(maps::kBackendMap);
  REQUIRE(backends);
  REQUIRE(backends->type == BPF_MAP_TYPE_HASH);
  maps::MapFd lru(bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "lru", sizeof(uint32_t), sizeof(bpx_backend), 16, nullptr));
  REQUIRE(lru.valid());
  REQUIRE(std::filesystem::remove(maps::mapPinPath(pins.path(), maps::kBackendMap)));
  REQUIRE(bpf_obj_pin(lru.fd(), maps::mapPinPath(pins.path(), maps::kBackendMap).c_str()) == 0);
  auto kind = maps::inspectPinnedMap(pins.path(), *backends);
  REQUIRE_FALSE(kind.ok());
  CHECK(kind.error().message.find("is of kind lru_hash; this bpfproxy reads kind hash") != std::string::npos);
  CHECK(doctor()[std::string("map: ") + maps::kBackendMap].status == "fail");
}
