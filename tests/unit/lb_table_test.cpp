// Per-Service load balancing in the model: the annotations, Maglev's table and the weighted
// table (controller/model/lb_choice.h, lb_table.h).
#include <arpa/inet.h>
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "controller/model/lb_choice.h"
#include "controller/model/lb_table.h"
#include "controller/model/model.h"
#include "controller/sync/reconciler.h"
#include "tests/support/cart_service.h"
#include "tests/support/frontend_specs.h"
#include "tests/support/memory_datapath.h"

using namespace bpfproxy;
using namespace bpfproxy::controller;

namespace {

std::vector<BackendSpec> backends(int count, int first = 0) {
  std::vector<BackendSpec> out;
  for (int i = first; i < first + count; ++i) {
    BackendSpec spec;
    spec.address = IpAddress::fromV4(htonl(0x0ac88000 + static_cast<uint32_t>(i)));
    spec.port = 8080;
    out.push_back(spec);
  }
  return out;
}

Service annotated(std::map<std::string, std::string> annotations) { return testing::cartService(std::move(annotations)); }
Endpoint endpoint(const char* address) { return testing::cartEndpoint(address); }
using testing::cartSlice;

}  // namespace

TEST_CASE("lb choice: the annotation picks the algorithm, a bad one names the Service and falls back") {
  struct Case {
    const char* description;
    std::map<std::string, std::string> annotations;
    uint8_t defaultAlgorithm;
    uint8_t algorithm;
    const char* warning;  // "" for none
  };
  const Case cases[] = {
      {"no annotation: the default", {}, BPX_LB_MAGLEV, BPX_LB_MAGLEV, ""},
      {"maglev", {{"bpfproxy.io/lb-algorithm", "maglev"}}, BPX_LB_RANDOM, BPX_LB_MAGLEV, ""},
      {"round-robin", {{"bpfproxy.io/lb-algorithm", "round-robin"}}, BPX_LB_RANDOM, BPX_LB_ROUND_ROBIN, ""},
      {"random over a maglev default", {{"bpfproxy.io/lb-algorithm", "random"}}, BPX_LB_MAGLEV, BPX_LB_RANDOM, ""},
      {"unknown", {{"bpfproxy.io/lb-algorithm", "fastest"}}, BPX_LB_ROUND_ROBIN, BPX_LB_ROUND_ROBIN,
       "Service shop/cart: annotation bpfproxy.io/lb-algorithm: \"fastest\" is not one of: random, maglev, "
       "round-robin; using the default, round-robin"},
      {"bad weight", {{"bpfproxy.io/lb-weights", "10.200.0.2=heavy"}}, BPX_LB_RANDOM, BPX_LB_RANDOM,
       "Service shop/cart: annotation bpfproxy.io/lb-weights: \"10.200.0.2=heavy\": the weight must be an "
       "integer from 0 to 100; every endpoint weighs 1"},
      {"slow start window not a duration", {{"bpfproxy.io/lb-slow-start", "soon"}}, BPX_LB_RANDOM, BPX_LB_RANDOM,
       "annotation bpfproxy.io/lb-slow-start: \"soon\" is not a window of 1 to 3600 seconds (like 60s)"},
      {"slow start with maglev", {{"bpfproxy.io/lb-algorithm", "maglev"}, {"bpfproxy.io/lb-slow-start", "60s"}},
       BPX_LB_RANDOM, BPX_LB_MAGLEV, "slow start applies to random and round-robin, not maglev"},
      {"slow start", {{"bpfproxy.io/lb-slow-start", "60s"}}, BPX_LB_RANDOM, BPX_LB_RANDOM, ""},
      {"weight target neither address nor zone", {{"bpfproxy.io/lb-weights", "db=2"}}, BPX_LB_RANDOM, BPX_LB_RANDOM,
       "\"db\" is neither an endpoint address nor zone:NAME"},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.description));
    ModelConfig config;
    config.defaultAlgorithm = c.defaultAlgorithm;
    EndpointSlice slice = cartSlice(endpoint("10.200.0.2"));
    auto built = buildServiceFrontends(annotated(c.annotations), {&slice}, config);
    REQUIRE(built.frontends.size() == 1);  // served whatever the annotation says
    CHECK(built.frontends[0].algorithm == c.algorithm);
    CHECK(built.frontends[0].backends.size() == 1);
    if (std::string(c.warning).empty()) {
      CHECK(built.warnings.empty());
    } else {
      REQUIRE(built.warnings.size() == 1);
      CHECK(built.warnings[0].find(c.warning) != std::string::npos);
    }
  }
}

TEST_CASE("lb choice: weights by endpoint win over weights by zone, the rest weigh 1") {
  auto choice = lbChoiceFor(annotated({{"bpfproxy.io/lb-weights", "10.200.0.2=5, zone:eu-1=3,10.200.0.9=0"}}),
                            BPX_LB_RANDOM);
  REQUIRE(choice.errors.empty());
  CHECK(choice.weights.weightOf(*IpAddress::parse("10.200.0.2"), "eu-1") == 5);
  CHECK(choice.weights.weightOf(*IpAddress::parse("10.200.0.3"), "eu-1") == 3);
  CHECK(choice.weights.weightOf(*IpAddress::parse("10.200.0.3"), "eu-2") == 1);
  CHECK(choice.weights.weightOf(*IpAddress::parse("10.200.0.9"), "") == 0);
}

TEST_CASE("maglev: the table size is a prime at least 100 times the backends (rounded up to a power of two), never shrinking") {
  CHECK(maglevTableSize(1, 0, 0) == 101);
  CHECK(maglevTableSize(3, 0, 0) == 401);
  CHECK(maglevTableSize(5, 0, 0) == 809);
  CHECK(maglevTableSize(4, 0, 809) == 809);     // a backend went: the size stays
  CHECK(maglevTableSize(100, 0, 0) == 12809);
  CHECK(maglevTableSize(3, 16381, 0) == 16381);  // --maglev-table-size
  CHECK(maglevTableSize(1000, 0, 0) == 64513);   // capped: backends + table fit 65535 slots
  for (size_t n : {1, 2, 3, 7, 50, 300, 1000}) CHECK(isPrime(maglevTableSize(n, 0, 0)));
}

TEST_CASE("maglev: every backend gets about M/N positions, and removing one moves its positions and few others") {
  for (int n : {3, 5, 10, 40}) {
    CAPTURE(n);
    auto all = backends(n);
    uint32_t size = maglevTableSize(all.size(), 0, 0);
    auto table = maglevTable(all, size);
    REQUIRE(table.size() == size);
    std::map<uint16_t, uint32_t> share;
    for (uint16_t index : table) share[index]++;
    REQUIRE(share.size() == static_cast<size_t>(n));
    for (const auto& [index, count] : share) CHECK(count <= size / n + 1);  // Maglev fills in turns

    auto fewer = all;
    fewer.pop_back();
    auto after = maglevTable(fewer, maglevTableSize(fewer.size(), 0, size));
    REQUIRE(after.size() == size);
    uint32_t movedOthers = 0;
    for (uint32_t p = 0; p < size; ++p) {
      const auto& was = all[table[p]];
      const auto& now = fewer[after[p]];
      if (table[p] != n - 1 && !(was == now)) ++movedOthers;
    }
    MESSAGE(n << " backends, table " << size << ": " << movedOthers << " positions of remaining backends moved");
    CHECK(movedOthers <= size * 4 / 100);  // at most 4% of the table (measured: 1.2 to 2.6%)
  }
}

TEST_CASE("maglev with weights: each backend's positions match its weight's share within weight/gcd, and removing one still moves few others") {
  // Weights 1..5 and a 0: backend i holds M * w_i / W positions to within w_i / gcd (one turn
  // of the population), the 0 none.
  const uint32_t weights[] = {3, 1, 2, 5, 4, 0, 1, 2};
  auto all = backends(8);
  uint32_t total = 0;
  for (size_t i = 0; i < all.size(); ++i) total += all[i].weight = weights[i];
  const uint32_t size = maglevTableSize(all.size(), 0, 0);  // the size rule is unchanged: 809
  CHECK(size == 809);
  auto table = maglevTable(all, size);
  REQUIRE(table.size() == size);
  std::map<uint16_t, uint32_t> share;
  for (uint16_t index : table) share[index]++;
  CHECK(share.count(5) == 0);
  for (size_t i = 0; i < all.size(); ++i) {
    CAPTURE(i);
    const double ideal = double(size) * weights[i] / total;
    CHECK(std::abs(double(share[static_cast<uint16_t>(i)]) - ideal) <= weights[i]);
  }
  // Weights 2, 2, 2 (gcd 2) build the unweighted table: Maglev's own.
  auto even = backends(3), plain = backends(3);
  for (auto& b : even) b.weight = 2;
  CHECK(maglevTable(even, 401) == maglevTable(plain, 401));

  // Disruption: removing backend 0 (weight 3 of 18) moves its positions and at most 5% of
  // the others' (measured below), beside plain Maglev's 4%.
  auto fewer = all;
  fewer.erase(fewer.begin());
  auto after = maglevTable(fewer, maglevTableSize(fewer.size(), 0, size));
  REQUIRE(after.size() == size);
  uint32_t movedOthers = 0;
  for (uint32_t p = 0; p < size; ++p)
    if (table[p] != 0 && !(all[table[p]] == fewer[after[p]])) ++movedOthers;
  MESSAGE("weighted, 8 backends, table " << size << ": " << movedOthers << " positions of remaining backends moved");
  CHECK(movedOthers <= size * 5 / 100);
  // A weight change moves about the weight's difference: backend 3 from 5 to 4 of the total.
  auto lighter = all;
  lighter[3].weight = 4;
  auto reweighed = maglevTable(lighter, size);
  uint32_t changed = 0;
  for (uint32_t p = 0; p < size; ++p) changed += table[p] != reweighed[p];
  MESSAGE("weight 5 -> 4 of one backend: " << changed << " of " << size << " positions changed");
  CHECK(changed <= size * 10 / 100);
}

TEST_CASE("maglev: the table depends on the backend set only") {
  auto all = backends(7);
  auto reversed = std::vector<BackendSpec>(all.rbegin(), all.rend());
  auto a = maglevTable(all, 809), b = maglevTable(reversed, 809);
  REQUIRE(a.size() == b.size());
  uint32_t differ = 0;
  for (size_t p = 0; p < a.size(); ++p) differ += !(all[a[p]] == reversed[b[p]]);
  // The model sorts backends, so order is fixed in practice; even reversed, most agree.
  CHECK(differ <= a.size() / 4);
  CHECK(maglevTable(all, 809) == a);  // deterministic
}

TEST_CASE("weighted table: backends repeated by weight over their gcd, interleaved, none when weights are equal") {
  auto three = backends(3);
  CHECK(weightedTable(three).empty());
  three[0].weight = 6;
  three[1].weight = 2;
  three[2].weight = 2;
  auto table = weightedTable(three);
  CHECK(table == std::vector<uint16_t>{0, 1, 0, 2, 0});  // 3:1:1, smooth
  three[2].weight = 0;
  table = weightedTable(three);
  CHECK(table == std::vector<uint16_t>{0, 0, 1, 0});
}

TEST_CASE("terminating fallback: when none is ready the serving-terminating endpoints are listed, and drain marks them for no new flows") {
  struct Case {
    const char* description;
    const char* annotation;  // nullptr: none
    std::optional<uint32_t> drainAfter;
    bool warning;
  };
  const Case cases[] = {
      {"no annotation: kube-proxy's", nullptr, std::nullopt, false},
      {"serve", "serve", std::nullopt, false},
      {"drain: new flows refused at once (the reconciler drains)", "drain", 0u, false},
      {"unknown: serve, with a warning", "drain-later", std::nullopt, true},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.description));
    std::map<std::string, std::string> annotations;
    if (c.annotation) annotations["bpfproxy.io/terminating-fallback"] = c.annotation;
    Endpoint terminating = endpoint("10.200.0.2");
    terminating.conditions = {false, true, true};  // not ready, serving, terminating
    EndpointSlice slice = cartSlice(terminating);
    auto built = buildServiceFrontends(annotated(annotations), {&slice}, ModelConfig{});
    REQUIRE(built.frontends.size() == 1);
    REQUIRE(built.frontends[0].backends.size() == 1);  // listed: open flows keep it
    CHECK(built.frontends[0].backends[0].state == BPX_BACKEND_TERMINATING);
    CHECK(built.frontends[0].drainAfterSeconds == c.drainAfter);
    CHECK(built.warnings.size() == (c.warning ? 1u : 0u));
    if (c.warning) CHECK(built.warnings[0].find("bpfproxy.io/terminating-fallback: \"drain-later\" is not one of") !=
                         std::string::npos);
    // A ready endpoint is used whatever the annotation says; the terminating one is not.
    slice.endpoints.push_back(endpoint("10.200.0.3"));
    built = buildServiceFrontends(annotated(annotations), {&slice}, ModelConfig{});
    REQUIRE(built.frontends[0].backends.size() == 1);
    CHECK(built.frontends[0].backends[0].address.toString() == "10.200.0.3");
  }
}

TEST_CASE("slow start: a backend that joins gets a share growing over its window, then an equal one") {
  testing::MemoryDatapath datapath;
  Reconciler reconciler(datapath, 64, 64);
  SteadyTime now{};
  reconciler.setClock([&] { return now; });
  const ServiceKey key{"default", "svc"};
  auto spec = [](int count) {
    auto frontend = testing::frontendSpec("10.32.0.9", 80, BPX_PROTO_TCP, BPX_SVC_F_CLUSTER_IP, backends(count));
    frontend.algorithm = BPX_LB_ROUND_ROBIN;
    frontend.slowStartSeconds = 100;
    return frontend;
  };
  // The new backend's share of the table after each apply.
  auto share = [&]() -> std::pair<size_t, size_t> {
    auto snapshot = datapath.snapshot();
    REQUIRE(snapshot.frontends.size() == 1);
    const auto& frontend = snapshot.frontends[0];
    uint32_t newcomer = 0;
    for (const auto& [id, backend] : snapshot.backends)
      if (maps::addressOf(backend.addr) == backends(1, 3)[0].address) newcomer = id;
    size_t mine = std::count(frontend.tableIds.begin(), frontend.tableIds.end(), newcomer);
    return {mine, frontend.tableIds.size()};
  };
  REQUIRE(reconciler.apply(key, {spec(3)}).errors.empty());
  CHECK(datapath.snapshot().frontends[0].tableIds.empty());  // a new Service: nothing ramps
  CHECK_FALSE(reconciler.ramping(key));

  REQUIRE(reconciler.apply(key, {spec(4)}).errors.empty());  // backend 4 joins
  CHECK(reconciler.ramping(key));
  CHECK(share() == std::pair<size_t, size_t>{1, 31});  // 10 + 10 + 10 + 1
  std::vector<size_t> shares;
  for (int seconds : {10, 30, 50, 90}) {
    now = SteadyTime{} + std::chrono::seconds(seconds);
    REQUIRE(reconciler.apply(key, {spec(4)}).errors.empty());
    CHECK(reconciler.ramping(key));
    auto [mine, total] = share();
    // Weights 10, 10, 10 and 10 x elapsed / window, divided by their gcd.
    const size_t ramped = static_cast<size_t>(seconds / 10);
    CHECK(mine * (30 + ramped) == ramped * total);
    shares.push_back(mine * 1000 / total);
  }
  CHECK(std::is_sorted(shares.begin(), shares.end()));
  CHECK(shares.front() < shares.back());
  now = SteadyTime{} + std::chrono::seconds(100);
  REQUIRE(reconciler.apply(key, {spec(4)}).errors.empty());
  CHECK_FALSE(reconciler.ramping(key));
  CHECK(datapath.snapshot().frontends[0].tableIds.empty());  // equal weights: no table
}
