// bpfproxy.io/metrics on the control-plane side: the model flags the annotated Services'
// frontends, the reconciler counts at most --max-metrics-services of them and deletes the
// per-backend counters of ids it releases, and the refused ones are exported as a gauge.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "controller/model/model.h"
#include "controller/serve/metrics.h"
#include "controller/sync/reconciler.h"
#include "tests/support/memory_datapath.h"

using namespace bpfproxy;
using namespace bpfproxy::controller;

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// Service `name` at `vip`:80, counted when `counted`, with backends on port 8080.
FrontendSpec frontend(const std::string& name, const char* vip, std::vector<const char*> backends, bool counted = true) {
  FrontendSpec spec;
  spec.key = {ip(vip), 80, BPX_PROTO_TCP};
  spec.flags = static_cast<uint16_t>(BPX_SVC_F_CLUSTER_IP | (counted ? BPX_SVC_F_METRICS : 0));
  spec.namespace_ = "default";
  spec.name = name;
  for (const char* address : backends) {
    BackendSpec backend;
    backend.address = ip(address);
    backend.port = 8080;
    spec.backends.push_back(backend);
  }
  return spec;
}

const bpx_svc_value& programmed(const testing::MemoryDatapath& datapath, const char* vip) {
  return datapath.services.at(toServiceKey({ip(vip), 80, BPX_PROTO_TCP}));
}

bool flagged(const testing::MemoryDatapath& datapath, const char* vip) {
  return programmed(datapath, vip).flags & BPX_SVC_F_METRICS;
}

// The backend id the datapath holds for `address`:8080.
uint32_t backendId(const testing::MemoryDatapath& datapath, const char* address) {
  for (const auto& [id, backend] : datapath.backends)
    if (maps::addressOf(backend.addr) == ip(address)) return id;
  FAIL("no backend " << address);
  return 0;
}

// What the datapath would have counted: every backend of the frontend at `vip`.
void countAll(testing::MemoryDatapath& datapath, const char* vip) {
  const auto& value = programmed(datapath, vip);
  for (const auto& [key, slot] : datapath.slots)
    if (key.svc_id == value.svc_id) datapath.serviceStats.insert({value.svc_id, slot.backend_id});
}

}  // namespace

TEST_CASE("service metrics: the model flags every frontend of an annotated Service, and only those") {
  Service service;
  service.meta.namespace_ = "default";
  service.meta.name = "web";
  service.type = "NodePort";
  service.clusterIPs = {"10.32.0.50"};
  service.ports.push_back({"http", Protocol::TCP, 80, 8080, "", 30080});
  ModelConfig config;
  config.serviceCidrs = {*Cidr::parse("10.32.0.0/24")};
  config.nodePortRange = {30000, 32767};
  auto count = [&](bool withFlag) {
    auto built = buildServiceFrontends(service, {}, config);
    return std::count_if(built.frontends.begin(), built.frontends.end(), [&](const FrontendSpec& f) {
      return !(f.flags & BPX_SVC_F_WILDCARD) && bool(f.flags & BPX_SVC_F_METRICS) == withFlag;
    });
  };
  CHECK(count(true) == 0);
  service.meta.annotations[kMetricsAnnotation] = "false";
  CHECK(count(true) == 0);
  service.meta.annotations[kMetricsAnnotation] = "true";
  CHECK(count(true) == 2);  // the ClusterIP and the NodePort
  CHECK(count(false) == 0);
}

TEST_CASE("service metrics: at most --max-metrics-services are counted, the rest refused once each and admitted when room frees") {
  testing::MemoryDatapath datapath;
  Reconciler reconciler(datapath, 100, 100);
  reconciler.setMetricsLimit(2);
  const ServiceKey a{"default", "a"}, b{"default", "b"}, c{"default", "c"};
  CHECK(reconciler.apply(a, {frontend("a", "10.32.0.1", {"10.200.0.1"})}).warnings.empty());
  CHECK(reconciler.apply(b, {frontend("b", "10.32.0.2", {"10.200.0.2"})}).warnings.empty());
  auto refused = reconciler.apply(c, {frontend("c", "10.32.0.3", {"10.200.0.3"})});
  CHECK(refused.errors.empty());
  CHECK(refused.warnings.size() == 1);
  CHECK(flagged(datapath, "10.32.0.1"));
  CHECK(flagged(datapath, "10.32.0.2"));
  CHECK_FALSE(flagged(datapath, "10.32.0.3"));  // programmed all the same, uncounted
  CHECK(reconciler.metricsRefused(c));
  CHECK(reconciler.metricsRefusedCount() == 1);
  CHECK(reconciler.apply(c, {frontend("c", "10.32.0.3", {"10.200.0.3"})}).warnings.empty());  // said once

  // A counted Service drops the annotation: room for the refused one at its next apply.
  reconciler.apply(a, {frontend("a", "10.32.0.1", {"10.200.0.1"}, false)});
  CHECK_FALSE(flagged(datapath, "10.32.0.1"));
  reconciler.apply(c, {frontend("c", "10.32.0.3", {"10.200.0.3"})});
  CHECK(flagged(datapath, "10.32.0.3"));
  CHECK(reconciler.metricsRefusedCount() == 0);
  CHECK(reconciler.metricsServiceCount() == 2);

  // A deleted Service frees its place too.
  reconciler.apply(a, {frontend("a", "10.32.0.1", {"10.200.0.1"})});
  CHECK(reconciler.metricsRefused(a));
  reconciler.removeAllExcept({a, c});
  reconciler.apply(a, {frontend("a", "10.32.0.1", {"10.200.0.1"})});
  CHECK(flagged(datapath, "10.32.0.1"));
  CHECK(reconciler.metricsRefusedCount() == 0);
}

TEST_CASE("service metrics: counters are deleted when a backend leaves, the annotation goes or the Service goes") {
  struct Case {
    const char* description;
    FrontendSpec next;  // applied after the counted one (empty name: the Service is deleted)
    std::vector<const char*> kept;  // backends whose counters stay
  };
  const Case cases[] = {
      {"a backend leaves", frontend("web", "10.32.0.50", {"10.200.0.2"}), {"10.200.0.2"}},
      {"a backend joins", frontend("web", "10.32.0.50", {"10.200.0.1", "10.200.0.2", "10.200.0.3"}),
       {"10.200.0.1", "10.200.0.2"}},
      {"the annotation is removed", frontend("web", "10.32.0.50", {"10.200.0.1", "10.200.0.2"}, false), {}},
      {"the Service is deleted", FrontendSpec{}, {}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    testing::MemoryDatapath datapath;
    Reconciler reconciler(datapath, 100, 100);
    const ServiceKey web{"default", "web"};
    reconciler.apply(web, {frontend("web", "10.32.0.50", {"10.200.0.1", "10.200.0.2"})});
    const uint32_t svcId = programmed(datapath, "10.32.0.50").svc_id;
    const uint32_t first = backendId(datapath, "10.200.0.1"), second = backendId(datapath, "10.200.0.2");
    countAll(datapath, "10.32.0.50");
    REQUIRE(datapath.serviceStats.size() == 2);
    if (c.next.name.empty())
      reconciler.removeAllExcept({});
    else
      reconciler.apply(web, {c.next});
    std::set<std::pair<uint32_t, uint32_t>> expected;
    for (const char* address : c.kept)
      expected.insert({svcId, std::string(address) == "10.200.0.1" ? first : second});
    CHECK(datapath.serviceStats == expected);
  }
}

TEST_CASE("service metrics: a released id's counters are gone before the id is reused") {
  testing::MemoryDatapath datapath;
  Reconciler reconciler(datapath, 100, 100);
  const ServiceKey web{"default", "web"}, api{"default", "api"};
  reconciler.apply(web, {frontend("web", "10.32.0.50", {"10.200.0.1"})});
  const uint32_t svcId = programmed(datapath, "10.32.0.50").svc_id;
  const uint32_t backend = backendId(datapath, "10.200.0.1");
  countAll(datapath, "10.32.0.50");
  reconciler.removeAllExcept({});
  CHECK(datapath.serviceStats.empty());
  // Another Service, another backend: both ids are reused, from zero.
  reconciler.apply(api, {frontend("api", "10.32.0.60", {"10.200.0.9"})});
  CHECK(programmed(datapath, "10.32.0.60").svc_id == svcId);
  CHECK(backendId(datapath, "10.200.0.9") == backend);
  CHECK(datapath.serviceStats.empty());
}

TEST_CASE("service metrics: an uncounted Service costs no counter deletes") {
  testing::MemoryDatapath datapath;
  Reconciler reconciler(datapath, 100, 100);
  const ServiceKey web{"default", "web"};
  reconciler.apply(web, {frontend("web", "10.32.0.50", {"10.200.0.1", "10.200.0.2"}, false)});
  reconciler.apply(web, {frontend("web", "10.32.0.50", {"10.200.0.2"}, false)});
  reconciler.removeAllExcept({});
  CHECK(std::none_of(datapath.log.begin(), datapath.log.end(),
                     [](const std::string& line) { return line.rfind("delete stats", 0) == 0; }));
}

TEST_CASE("service metrics: a restarted agent keeps its counted Services and deletes counters no frontend lists") {
  testing::MemoryDatapath datapath;
  {
    Reconciler before(datapath, 100, 100);
    before.apply({"default", "web"}, {frontend("web", "10.32.0.50", {"10.200.0.1"})});
  }
  countAll(datapath, "10.32.0.50");
  const auto live = *datapath.serviceStats.begin();
  datapath.serviceStats.insert({77, 5});  // left by a crash between a release and its delete
  Reconciler after(datapath, 100, 100);
  after.setMetricsLimit(1);
  CHECK(after.adopt(datapath.snapshot()).errors.empty());
  CHECK(datapath.serviceStats == std::set<std::pair<uint32_t, uint32_t>>{live});
  CHECK(after.metricsServiceCount() == 1);
  // The limit is full with the adopted Service: a second one is refused.
  CHECK(after.apply({"default", "api"}, {frontend("api", "10.32.0.60", {"10.200.0.9"})}).warnings.size() == 1);
}

TEST_CASE("service metrics: bpfproxy_services_metrics_refused is what the last sync reported") {
  MetricsOptions options;
  options.pinDir = "/nonexistent/bpfproxy-test";  // no datapath: the traffic families are left out
  AgentMetrics metrics(options);
  SyncReport report;
  report.metricsRefused = 3;
  metrics.onSyncApplied(report);
  auto text = metrics.render();
  CHECK(text.find("\nbpfproxy_services_metrics_refused 3\n") != std::string::npos);
  CHECK(text.find("bpfproxy_service_connections_total") == std::string::npos);
}

TEST_CASE("service metrics: seeded churn never leaves a counter that a live counted frontend does not list") {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    std::mt19937 random(seed);
    testing::MemoryDatapath datapath;
    Reconciler reconciler(datapath, 100, 100);
    reconciler.setMetricsLimit(3);
    const char* backends[] = {"10.200.0.1", "10.200.0.2", "10.200.0.3", "10.200.0.4"};
    const char* vips[] = {"10.32.0.1", "10.32.0.2", "10.32.0.3", "10.32.0.4", "10.32.0.5"};
    for (int step = 0; step < 200; ++step) {
      const size_t which = random() % std::size(vips);
      const std::string name = "svc" + std::to_string(which);
      const ServiceKey key{"default", name};
      if (random() % 4 == 0) {
        reconciler.apply(key, {});  // deleted
      } else {
        std::vector<const char*> chosen;
        for (const char* backend : backends)
          if (random() % 2) chosen.push_back(backend);
        reconciler.apply(key, {frontend(name, vips[which], chosen, random() % 3 != 0)});
      }
      // Every counter names a live counted frontend and one of its backends ...
      std::set<std::pair<uint32_t, uint32_t>> listed;
      size_t counted = 0;
      for (const auto& [svcKey, value] : datapath.services) {
        if (!(value.flags & BPX_SVC_F_METRICS)) continue;
        counted++;
        for (const auto& [slot, target] : datapath.slots)
          if (slot.svc_id == value.svc_id && slot.bank == (value.generation & 1)) listed.insert({value.svc_id, target.backend_id});
      }
      for (const auto& pair : datapath.serviceStats) CHECK(listed.count(pair));
      CHECK(counted <= 3);
      // ... and the datapath then counts on every backend of every counted frontend.
      datapath.serviceStats.insert(listed.begin(), listed.end());
    }
  }
}
