// bpfproxy.io/terminating-fallback drain-after=SECONDS: the annotation through the model,
// and the reconciler with a clock: a frontend left with only serving-terminating backends
// keeps them for new flows for SECONDS, then is programmed drained (BPX_SVC_F_DRAINED: no
// new flows, the backends still listed for open ones).
#include <doctest/doctest.h>

#include <map>
#include <optional>

#include "controller/model/lb_choice.h"
#include "controller/model/model.h"
#include "controller/sync/reconciler.h"
#include "tests/support/cart_service.h"
#include "tests/support/frontend_specs.h"
#include "tests/support/memory_datapath.h"

using namespace bpfproxy;
using namespace bpfproxy::controller;

namespace {

Service withFallback(const char* value) { return testing::cartService({{kTerminatingFallbackAnnotation, value}}); }

EndpointSlice slice(bool ready) {
  Endpoint endpoint = testing::cartEndpoint("10.200.0.2");
  if (!ready) endpoint.conditions = {false, true, true};  // not ready, serving, terminating
  return testing::cartSlice(endpoint);
}

FrontendSpec cartFrontend(bool ready, uint32_t drainAfter) {
  auto spec = testing::frontendSpec("10.32.0.7", 80, BPX_PROTO_TCP, BPX_SVC_F_CLUSTER_IP,
                                    {testing::backendSpec("10.200.0.2", 8080, BPX_PROTO_TCP)});
  spec.backends[0].state = ready ? BPX_BACKEND_ACTIVE : BPX_BACKEND_TERMINATING;
  spec.drainAfterSeconds = drainAfter;
  return spec;
}

bool drained(const testing::MemoryDatapath& datapath) {
  auto snapshot = datapath.snapshot();
  REQUIRE(snapshot.frontends.size() == 1);
  CHECK(snapshot.frontends[0].backendIds.size() == 1);  // always listed: open flows keep it
  return snapshot.frontends[0].value.flags & BPX_SVC_F_DRAINED;
}

}  // namespace

TEST_CASE("drain-after: the annotation's value, and a bad one named, counted and replaced by serve") {
  struct Case {
    const char* value;
    std::optional<uint32_t> drainAfter;  // nullopt: serve
    const char* error;                   // in the warning, or nullptr
  };
  const Case cases[] = {
      {"drain-after=30", 30u, nullptr},
      {" drain-after=45s ", 45u, nullptr},
      {"drain-after=86400", 86400u, nullptr},
      {"drain", 0u, nullptr},
      {"drain-after=0", std::nullopt, "drain-after takes 1 to 86400 seconds"},
      {"drain-after=86401", std::nullopt, "drain-after takes 1 to 86400 seconds"},
      {"drain-after=ten", std::nullopt, "drain-after takes 1 to 86400 seconds"},
      {"drain-after=", std::nullopt, "drain-after takes 1 to 86400 seconds"},
      {"drain-after=-5", std::nullopt, "drain-after takes 1 to 86400 seconds"},
      {"drain-after 30", std::nullopt, "is not one of: serve, drain, drain-after=SECONDS"},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.value));
    Service service = withFallback(c.value);
    auto choice = lbChoiceFor(service, BPX_LB_RANDOM);
    CHECK(choice.drainAfterSeconds == c.drainAfter);
    EndpointSlice terminating = slice(false);
    auto built = buildServiceFrontends(service, {&terminating}, ModelConfig{});
    REQUIRE(built.frontends.size() == 1);
    CHECK(built.frontends[0].drainAfterSeconds == c.drainAfter);
    REQUIRE(built.frontends[0].backends.size() == 1);  // the serving-terminating endpoint
    if (c.error) {
      REQUIRE(built.warnings.size() == 1);
      CHECK(built.warnings[0].find("Service shop/cart: annotation bpfproxy.io/terminating-fallback") == 0);
      CHECK(built.warnings[0].find(c.error) != std::string::npos);
      CHECK(built.warnings[0].find("using serve") != std::string::npos);
    } else {
      CHECK(built.warnings.empty());
    }
  }
}

TEST_CASE("drain-after: terminating backends get new flows for the window, then the frontend is drained") {
  testing::MemoryDatapath datapath;
  SteadyTime now{};
  const ServiceKey key{"default", "svc"};
  // Applies the frontend (its backend ready or terminating, drain-after=30) at `seconds`
  // and returns whether it is programmed drained.
  auto drainedAt = [&](Reconciler& reconciler, int seconds, bool ready) {
    now = SteadyTime{} + std::chrono::seconds(seconds);
    REQUIRE(reconciler.apply(key, {cartFrontend(ready, 30)}).errors.empty());
    return drained(datapath);
  };
  Reconciler reconciler(datapath, 64, 64);
  reconciler.setClock([&] { return now; });
  CHECK_FALSE(drainedAt(reconciler, 0, true));
  CHECK_FALSE(reconciler.drainPending(key));      // a ready backend: no window
  CHECK_FALSE(drainedAt(reconciler, 100, false));  // only terminating from 100 s
  CHECK(reconciler.drainPending(key));
  CHECK_FALSE(drainedAt(reconciler, 129, false));
  CHECK(drainedAt(reconciler, 130, false));
  CHECK_FALSE(reconciler.drainPending(key));

  // A restarted agent does not know when the window opened: a drained frontend stays drained.
  Reconciler restarted(datapath, 64, 64);
  restarted.setClock([&] { return now; });
  REQUIRE(restarted.adopt(datapath.snapshot()).errors.empty());
  datapath.log.clear();
  CHECK(drainedAt(restarted, 131, false));
  CHECK(datapath.log.empty());

  // A ready backend again: new flows again; terminating again later: a new window.
  CHECK_FALSE(drainedAt(restarted, 200, true));
  CHECK_FALSE(drainedAt(restarted, 300, false));
  CHECK_FALSE(drainedAt(restarted, 329, false));
  CHECK(drainedAt(restarted, 330, false));

  // drain (0): at once; serve (nullopt): never.
  testing::MemoryDatapath other;
  Reconciler fresh(other, 64, 64);
  fresh.setClock([&] { return now; });
  REQUIRE(fresh.apply(key, {cartFrontend(false, 0)}).errors.empty());
  CHECK(drained(other));
  auto serve = cartFrontend(false, 0);
  serve.drainAfterSeconds.reset();
  now = SteadyTime{} + std::chrono::seconds(100000);
  REQUIRE(fresh.apply(key, {serve}).errors.empty());
  CHECK_FALSE(drained(other));
  CHECK_FALSE(fresh.drainPending(key));
}
