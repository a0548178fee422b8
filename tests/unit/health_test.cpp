// kube-proxy's proxier health with bpfproxy's additions, driven by a fake clock.
#include <doctest/doctest.h>

#include "controller/serve/health.h"

using namespace bpfproxy::controller;
using namespace std::chrono_literals;

namespace {

struct FakeClock {
  std::chrono::system_clock::time_point now = std::chrono::system_clock::time_point(1700000000s);
  ProxierHealth::Clock fn() {
    return [this] { return now; };
  }
};

struct Fixture {
  FakeClock clock;
  HookState hooks{true, ""};
  ProxierHealth health{60s, clock.fn()};  // syncPeriod 30s
  Fixture() {
    health.setHookProbe([this] { return hooks; });
  }
};

}  // namespace

TEST_CASE("health: unhealthy until the first full sync, then healthy") {
  Fixture f;
  CHECK(f.health.healthz().code == 503);
  CHECK(f.health.healthz().reason == "the first full sync is not programmed yet");
  CHECK(f.health.livez().code == 200);  // starting up is alive
  f.health.datapathLoaded();
  f.health.queuedUpdate();
  f.clock.now += 1s;
  f.health.updated(false);  // a partial sync does not count
  CHECK(f.health.healthz().code == 503);
  f.health.updated(true);
  auto verdict = f.health.healthz();
  CHECK(verdict.code == 200);
  CHECK(verdict.lastUpdated == f.clock.now);  // healthy: lastUpdated is now, as kube-proxy
}

TEST_CASE("health: an update queued longer than 2 x syncPeriod makes healthz and livez fail") {
  Fixture f;
  f.health.datapathLoaded();
  f.health.updated(true);
  f.health.queuedUpdate();
  f.clock.now += 59s;
  CHECK(f.health.healthz().code == 200);  // pending but not late
  f.health.queuedUpdate();                // a later queue keeps the oldest time
  f.clock.now += 1s;
  CHECK(f.health.healthz().code == 503);
  CHECK(f.health.livez().code == 503);
  CHECK(f.health.livez().reason.find("queued 60.0s ago") != std::string::npos);
  auto lastSync = f.clock.now - 60s;
  CHECK(f.health.livez().lastUpdated == lastSync);  // unhealthy: the real last update
  f.health.updated(false);
  CHECK(f.health.healthz().code == 200);
  CHECK(f.health.livez().code == 200);
}

TEST_CASE("health: a detached hook fails healthz, livez only once the datapath was loaded") {
  Fixture f;
  f.health.updated(true);
  f.hooks = {false, "bpx_connect4: link detached"};
  CHECK(f.health.healthz().code == 503);
  CHECK(f.health.livez().code == 200);  // not loaded yet: nothing could have been detached
  f.health.datapathLoaded();
  CHECK(f.health.livez().code == 503);
  CHECK(f.health.livez().reason == "program not attached: bpx_connect4: link detached");
  f.hooks = {true, ""};
  CHECK(f.health.healthz().code == 200);
}

TEST_CASE("health: a node being deleted is not eligible (healthz only)") {
  Fixture f;
  f.health.datapathLoaded();
  f.health.updated(true);
  CHECK(f.health.proxierHealthy());
  f.health.setNodeEligible(false);
  CHECK(f.health.healthz().code == 503);
  CHECK_FALSE(f.health.healthz().nodeEligible);
  CHECK(f.health.livez().code == 200);
  // kube-proxy's IsHealthy leaves the node out: the health-check node ports stay healthy.
  CHECK(f.health.proxierHealthy());
}

TEST_CASE("health: serviceProxyHealthy follows the proxier, not the node") {
  Fixture f;
  CHECK_FALSE(f.health.proxierHealthy());  // nothing synced yet
  f.health.datapathLoaded();
  f.health.updated(true);
  CHECK(f.health.proxierHealthy());
  f.hooks = {false, "bpx_connect4: link detached"};
  CHECK_FALSE(f.health.proxierHealthy());
}

TEST_CASE("health: bodies are kube-proxy's JSON with Go's time format") {
  HealthVerdict verdict;
  verdict.lastUpdated = std::chrono::system_clock::time_point(1700000000s) + 123456789ns;
  verdict.currentTime = std::chrono::system_clock::time_point(1700000001s) + 500ms;
  verdict.nodeEligible = true;
  CHECK(ProxierHealth::healthzBody(verdict) ==
        R"({"lastUpdated": "2023-11-14 22:13:20.123456789 +0000 UTC","currentTime": "2023-11-14 22:13:21.5 +0000 UTC", "nodeEligible": true})");
  CHECK(ProxierHealth::livezBody(verdict) ==
        R"({"lastUpdated": "2023-11-14 22:13:20.123456789 +0000 UTC","currentTime": "2023-11-14 22:13:21.5 +0000 UTC"})");
  CHECK(ProxierHealth::goTime({}) == "0001-01-01 00:00:00 +0000 UTC");
}
