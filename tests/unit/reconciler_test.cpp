// The reconciler against an in-memory datapath: what it writes, in which order, and what a
// connecting socket could be given at every step.
#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <set>

#include "controller/sync/reconciler.h"
#include "maps/map_names.h"
#include "tests/support/memory_datapath.h"

using namespace bpfproxy;
using controller::BackendSpec;
using controller::FrontendSpec;
using controller::Reconciler;
using controller::ServiceKey;

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

FrontendSpec frontend(const char* vip, uint16_t port, std::vector<const char*> backends,
                      uint8_t proto = BPX_PROTO_TCP) {
  FrontendSpec spec;
  spec.key = {ip(vip), port, proto};
  spec.flags = BPX_SVC_F_CLUSTER_IP;
  spec.namespace_ = "default";
  spec.name = "nginx";
  for (const char* address : backends) {
    BackendSpec backend;
    backend.address = ip(address);
    backend.port = 80;
    backend.proto = proto;
    spec.backends.push_back(backend);
  }
  return spec;
}

bpx_svc_key svcKey(const char* vip, uint16_t port, uint8_t proto = BPX_PROTO_TCP) {
  return controller::toServiceKey({ip(vip), port, proto});
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

const ServiceKey kNginx{"default", "nginx"};
const ServiceKey kOther{"default", "other"};

}  // namespace

TEST_CASE("reconciler: the datapath follows the desired backends, case by case") {
  struct Case {
    const char* description;
    std::vector<std::vector<const char*>> steps;  // backend sets applied in turn
    std::vector<std::string> reachable;           // after the last step
    size_t backendsInMap;
  };
  const Case cases[] = {
      {"a new Service", {{"10.200.0.2", "10.200.128.1"}}, {"10.200.0.2:80", "10.200.128.1:80"}, 2},
      {"a backend added", {{"10.200.0.2"}, {"10.200.0.2", "10.200.128.1"}}, {"10.200.0.2:80", "10.200.128.1:80"}, 2},
      {"a backend removed", {{"10.200.0.2", "10.200.128.1"}, {"10.200.128.1"}}, {"10.200.128.1:80"}, 1},
      {"all backends replaced", {{"10.200.0.2"}, {"10.200.0.3", "10.200.0.4"}}, {"10.200.0.3:80", "10.200.0.4:80"}, 2},
      {"every endpoint gone", {{"10.200.0.2"}, {}}, {}, 0},
      {"back from none", {{}, {"10.200.0.5"}}, {"10.200.0.5:80"}, 1},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    testing::MemoryDatapath datapath;
    Reconciler reconciler(datapath, 100, 100);
    for (const auto& step : c.steps) {
      auto result = reconciler.apply(kNginx, {frontend("10.32.0.140", 80, step)});
      CHECK(result.errors.empty());
    }
    CHECK(sorted(datapath.reachable(svcKey("10.32.0.140", 80))) == c.reachable);
    CHECK(datapath.backends.size() == c.backendsInMap);
    CHECK(datapath.slots.size() == c.reachable.size());  // the unused bank is empty
    CHECK(datapath.services.size() == 1);
  }
}

TEST_CASE("reconciler: a backend set changes by filling the unused bank, then one flip") {
  testing::MemoryDatapath datapath;
  Reconciler reconciler(datapath, 100, 100);
  reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.2", "10.200.128.1"})});
  datapath.log.clear();
  reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.128.1", "10.200.0.9"})});
  // Backend 10.200.0.9 is new (id 3); the new bank is written before the service entry flips
  // to it, and the old bank and the unused backend go only after.
  const std::vector<std::string> expected = {
      "put backend 3",
      "put slot 1/0/0",
      "put slot 1/1/0",
      "put service 1 gen 2 count 2",
      "delete slot 1/0/1",
      "delete slot 1/1/1",
      "delete backend 1",
  };
  CHECK(datapath.log == expected);
}

TEST_CASE("reconciler: applying what is programmed writes nothing") {
  testing::MemoryDatapath datapath;
  Reconciler reconciler(datapath, 100, 100);
  auto desired = std::vector<FrontendSpec>{frontend("10.32.0.140", 80, {"10.200.0.2", "10.200.128.1"})};
  reconciler.apply(kNginx, desired);
  datapath.log.clear();
  auto result = reconciler.apply(kNginx, desired);
  CHECK(result.frontendsChanged == 0);
  CHECK(datapath.log.empty());
}

TEST_CASE("reconciler: apply names the svc_id each frontend of the Service has in the map") {
  testing::MemoryDatapath datapath;
  Reconciler reconciler(datapath, 100, 100);
  auto both = std::vector<FrontendSpec>{frontend("10.32.0.140", 80, {"10.200.0.2"}),
                                        frontend("10.32.0.140", 53, {"10.200.0.2"}, BPX_PROTO_UDP)};
  auto result = reconciler.apply(kNginx, both);
  REQUIRE(result.serviceIds.size() == 2);
  for (const auto& spec : both)
    CHECK(result.serviceIds.at(spec.key) ==
          datapath.services.at(controller::toServiceKey(spec.key)).svc_id);
  CHECK(result.serviceIds.at(both[0].key) != result.serviceIds.at(both[1].key));
  // A frontend the Service no longer has is no longer named.
  result = reconciler.apply(kNginx, {both[0]});
  CHECK(result.serviceIds.size() == 1);
  CHECK(result.serviceIds.count(both[0].key) == 1);
  CHECK(reconciler.apply(kNginx, {}).serviceIds.empty());
}

TEST_CASE("reconciler: a restarted agent adopts the maps and rewrites nothing") {
  testing::MemoryDatapath datapath;
  auto desired = std::vector<FrontendSpec>{frontend("10.32.0.140", 80, {"10.200.0.2", "10.200.128.1"}),
                                           frontend("10.32.0.140", 53, {"10.200.0.7"}, BPX_PROTO_UDP)};
  {
    Reconciler first(datapath, 100, 100);
    first.apply(kNginx, desired);
  }
  datapath.log.clear();
  Reconciler second(datapath, 100, 100);
  second.adopt(datapath.snapshot());
  CHECK(second.frontendCount() == 2);
  CHECK(second.backendCount() == 3);
  auto result = second.apply(kNginx, desired);
  CHECK(result.frontendsChanged == 0);
  CHECK(datapath.log.empty());

  // Until a complete view says otherwise, adopted Services stay; then the gone ones leave.
  auto removed = second.removeAllExcept({});
  CHECK(removed.frontendsRemoved == 2);
  CHECK(datapath.services.empty());
  CHECK(datapath.slots.empty());
  CHECK(datapath.backends.empty());
  CHECK(datapath.metas.empty());
}

TEST_CASE("reconciler: adoption removes the debris of an interrupted update") {
  testing::MemoryDatapath datapath;
  {
    Reconciler first(datapath, 100, 100);
    first.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.2"})});
  }
  // A crash after the new bank was written but before the flip.
  bpx_slot_key orphan{};
  orphan.svc_id = 1;
  orphan.bank = 0;
  datapath.slots[orphan] = {77};
  datapath.backends[77] = datapath.backends.begin()->second;
  datapath.backends[77].addr[15] = 99;  // 10.200.0.99, only in the unflipped bank
  Reconciler second(datapath, 100, 100);
  second.adopt(datapath.snapshot());
  CHECK(datapath.slots.count(orphan) == 0);
  CHECK(datapath.backends.count(77) == 0);
  CHECK(datapath.reachable(svcKey("10.32.0.140", 80)) == std::vector<std::string>{"10.200.0.2:80"});
}

TEST_CASE("reconciler: a backend shared by two Services lives while either uses it") {
  testing::MemoryDatapath datapath;
  Reconciler reconciler(datapath, 100, 100);
  reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.2"})});
  auto other = frontend("10.32.0.141", 80, {"10.200.0.2"});
  other.name = "other";
  reconciler.apply(kOther, {other});
  CHECK(datapath.backends.size() == 1);
  reconciler.apply(kNginx, {});
  CHECK(datapath.backends.size() == 1);
  CHECK(datapath.reachable(svcKey("10.32.0.141", 80)) == std::vector<std::string>{"10.200.0.2:80"});
  reconciler.apply(kOther, {});
  CHECK(datapath.backends.empty());
  CHECK(datapath.services.empty());
}

TEST_CASE("reconciler: a full backend map fails one Service and keeps what was programmed") {
  testing::MemoryDatapath datapath;
  datapath.backendCapacity = 2;
  Reconciler reconciler(datapath, 100, 100);
  reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.2", "10.200.0.3"})});
  auto other = frontend("10.32.0.141", 80, {"10.200.0.4"});
  auto result = reconciler.apply(kOther, {other});
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].find("10.32.0.141:80/TCP of default/other") != std::string::npos);
  CHECK(result.errors[0].find("10.200.0.4:80") != std::string::npos);
  CHECK(result.errors[0].find("bpx_be_v1 is full (100 entries): raise --max-backends") != std::string::npos);
  CHECK(result.fullMaps == std::set<std::string>{"bpx_be_v1"});
  CHECK(datapath.services.size() == 1);
  CHECK(sorted(datapath.reachable(svcKey("10.32.0.140", 80))) ==
        std::vector<std::string>{"10.200.0.2:80", "10.200.0.3:80"});

  // An update that does not fit keeps the old set whole.
  result = reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.2", "10.200.0.9"})});
  CHECK(result.errors.size() == 1);
  CHECK(sorted(datapath.reachable(svcKey("10.32.0.140", 80))) ==
        std::vector<std::string>{"10.200.0.2:80", "10.200.0.3:80"});
}

TEST_CASE("reconciler: service ids used up fail the next Service by map and flag, the others keep working") {
  testing::MemoryDatapath datapath;
  Reconciler reconciler(datapath, 2, 100);
  REQUIRE(reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.2"}),
                                    frontend("10.32.0.140", 443, {"10.200.0.2"})}).errors.empty());
  auto result = reconciler.apply(kOther, {frontend("10.32.0.141", 80, {"10.200.0.4"})});
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].find("10.32.0.141:80/TCP of default/other") != std::string::npos);
  CHECK(result.errors[0].find(std::string(maps::kServiceMap) + " is full (2 entries): raise --max-services") != std::string::npos);
  CHECK(result.fullMaps == std::set<std::string>{maps::kServiceMap});
  CHECK(datapath.reachable(svcKey("10.32.0.140", 80)) == std::vector<std::string>{"10.200.0.2:80"});
  CHECK(datapath.reachable(svcKey("10.32.0.140", 443)) == std::vector<std::string>{"10.200.0.2:80"});
  CHECK(datapath.reachable(svcKey("10.32.0.141", 80)).empty());
  // The nginx Service still changes normally while the map is full.
  CHECK(reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.3"})}).errors.empty());
  CHECK(datapath.reachable(svcKey("10.32.0.140", 80)) == std::vector<std::string>{"10.200.0.3:80"});
  // Room again: the waiting Service fits.
  CHECK(reconciler.apply(kOther, {frontend("10.32.0.141", 80, {"10.200.0.4"})}).errors.empty());
}

TEST_CASE("reconciler: a frontend another Service owns is refused, not stolen") {
  testing::MemoryDatapath datapath;
  Reconciler reconciler(datapath, 100, 100);
  reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.2"})});
  auto thief = frontend("10.32.0.140", 80, {"10.200.0.66"});
  thief.name = "other";
  auto result = reconciler.apply(kOther, {thief});
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].find("already used by default/nginx") != std::string::npos);
  CHECK(datapath.reachable(svcKey("10.32.0.140", 80)) == std::vector<std::string>{"10.200.0.2:80"});
}

TEST_CASE("reconciler: removing a frontend deletes its entry before its slots") {
  testing::MemoryDatapath datapath;
  Reconciler reconciler(datapath, 100, 100);
  reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.2"})});
  datapath.log.clear();
  reconciler.apply(kNginx, {});
  const std::vector<std::string> expected = {"delete service 1", "delete slot 1/0/1", "delete meta 1",
                                             "delete backend 1"};
  CHECK(datapath.log == expected);
}

namespace {

// Every "put service ID gen G" of the log, as G.
std::vector<uint32_t> generationsWritten(const std::vector<std::string>& log) {
  std::vector<uint32_t> out;
  for (const auto& line : log) {
    auto at = line.find(" gen ");
    if (line.rfind("put service ", 0) == 0 && at != std::string::npos)
      out.push_back(static_cast<uint32_t>(std::stoul(line.substr(at + 5))));
  }
  return out;
}

}  // namespace

TEST_CASE("reconciler: a generation is never handed out twice, across Services, deletions and restarts") {
  testing::MemoryDatapath datapath;
  const ServiceKey a{"default", "a"}, b{"default", "b"};
  auto owned = [](const ServiceKey& owner, FrontendSpec spec) {
    spec.name = owner.name;  // the identity a restarted agent adopts it under
    return spec;
  };
  auto churn = [&](Reconciler& reconciler) {
    for (int round = 0; round < 50; ++round) {
      reconciler.apply(a, {owned(a, frontend("10.32.0.10", 80, {round % 2 ? "10.200.0.2" : "10.200.0.3"}))});
      reconciler.apply(b, {owned(b, frontend("10.32.0.20", 80, {"10.200.0.4"}))});
      reconciler.apply(b, {});  // b's svc_id is released and taken again next round
    }
  };
  std::optional<Reconciler> first(std::in_place, datapath, 100, 100);
  churn(*first);
  uint32_t floorBeforeRestart = datapath.generationFloor;
  REQUIRE(floorBeforeRestart > 0);
  first.reset();
  Reconciler second(datapath, 100, 100);
  second.adopt(datapath.snapshot());
  churn(second);

  auto generations = generationsWritten(datapath.log);
  REQUIRE(generations.size() == 200);  // 100 a round of churn: a changes, b is created
  std::set<uint32_t> unique(generations.begin(), generations.end());
  CHECK(unique.size() == generations.size());
  // The restarted agent starts past what the first one reserved: it cannot know which
  // generations sticky entries of deleted Services still name.
  CHECK(*std::min_element(generations.begin() + 100, generations.end()) >= floorBeforeRestart);
}

TEST_CASE("reconciler: the generation floor is persisted before a generation past it is used") {
  testing::MemoryDatapath datapath;
  Reconciler reconciler(datapath, 100, 100);
  reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.2"})});
  auto floorWrite = std::find_if(datapath.log.begin(), datapath.log.end(),
                                 [](const std::string& line) { return line.rfind("put generation floor ", 0) == 0; });
  auto serviceWrite = std::find_if(datapath.log.begin(), datapath.log.end(),
                                   [](const std::string& line) { return line.rfind("put service ", 0) == 0; });
  REQUIRE(floorWrite != datapath.log.end());
  REQUIRE(serviceWrite != datapath.log.end());
  CHECK(floorWrite < serviceWrite);
  CHECK(datapath.generationFloor > generationsWritten(datapath.log).at(0));
}

TEST_CASE("reconciler: a floor that cannot be persisted fails the change and keeps what was programmed") {
  testing::MemoryDatapath datapath;
  Reconciler reconciler(datapath, 100, 100);
  reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.2"})});
  uint32_t floor = datapath.generationFloor;
  datapath.generationFloorError = -ENOSPC;
  controller::ReconcileResult failed;
  std::vector<std::string> before;
  for (uint32_t i = 0; i < controller::GenerationSource::kBlock + 2 && failed.errors.empty(); ++i) {
    before = datapath.reachable(svcKey("10.32.0.140", 80));
    failed = reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {i % 2 ? "10.200.0.2" : "10.200.0.3"})});
  }
  REQUIRE(failed.errors.size() == 1);
  CHECK(failed.errors[0].find("generation floor") != std::string::npos);
  CHECK(generationsWritten(datapath.log).back() < floor);  // nothing past the persisted floor
  CHECK(datapath.reachable(svcKey("10.32.0.140", 80)) == before);
  datapath.generationFloorError = 0;
  CHECK(reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.9"})}).errors.empty());
  CHECK(datapath.reachable(svcKey("10.32.0.140", 80)) == std::vector<std::string>{"10.200.0.9:80"});
}

TEST_CASE("reconciler: backends no frontend lists any more are reported once, for stale sockets") {
  testing::MemoryDatapath maps;
  Reconciler reconciler(maps, 1024, 1024);
  auto names = [](const std::vector<Reconciler::RemovedBackend>& removed) {
    std::vector<std::string> text;
    for (const auto& b : removed) text.push_back(formatEndpoint(b.address, b.port) + "/" + std::to_string(b.proto));
    return sorted(text);
  };
  reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.2", "10.200.0.3"})});
  reconciler.apply(kOther, {frontend("10.32.0.141", 80, {"10.200.0.3"})});
  CHECK(reconciler.takeRemovedBackends().empty());

  // 10.200.0.3 leaves nginx but other still lists it: not stale.
  reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.2"})});
  CHECK(reconciler.takeRemovedBackends().empty());

  reconciler.apply(kOther, {});
  CHECK(names(reconciler.takeRemovedBackends()) == std::vector<std::string>{"10.200.0.3:80/6"});
  CHECK(reconciler.takeRemovedBackends().empty());  // reported once

  // Removed, then back within one sync: its sockets are fine.
  reconciler.apply(kNginx, {});
  reconciler.apply(kNginx, {frontend("10.32.0.140", 80, {"10.200.0.2"})});
  CHECK(reconciler.takeRemovedBackends().empty());
}
