// Model-based test of the datapath under churn. A seeded generator creates, changes and
// deletes Services and EndpointSlices (tests/model/churn.h); after every step the
// production model and reconciler program the real maps, and flows from the same clients
// again and again (pods through the socket hooks in the XDP harness, outside clients and a
// bypassing pod through the TC programs under BPF_PROG_TEST_RUN) are checked against the
// reference model (tests/model/reference_model.h): every verdict and backend must be one
// it allows, and sticky state (ClientIP affinity, unconnected UDP, TC conntrack) must hold
// while the model says it holds. A failure prints its seed and the shortest sequence of
// steps found to reproduce it (shrunk by deleting steps). Services also change their
// load-balancing annotations (algorithm, weights, terminating fallback, some invalid): the
// picks stay within the model's set, a drained Service refuses new flows, weight 0 takes a
// backend out of new flows' choice, and open flows keep their backend in both cases.
//
// BPFPROXY_CHURN_STEPS (default 8000 in all, over four seeds) and BPFPROXY_CHURN_SEED (default: a fixed list of
// seeds) run it longer or from a given seed.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <doctest/doctest.h>
#include <linux/pkt_cls.h>
#include <net/if.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>

#include "controller/model/model.h"
#include "controller/sync/reconciler.h"
#include "controller/node/tc_state.h"
#include "loader/socket_lb_loader.h"
#include "loader/tc_loader.h"
#include "maps/datapath_maps.h"
#include "maps/bpf_datapath_writer.h"
#include "maps/map_names.h"
#include "maps/tc_maps.h"
#include "sock_lb_harness.skel.h"
#include "tests/bpf/sock_lb_harness.h"
#include "tests/bpf/both_paths_datapath.h"
#include "tests/model/churn.h"
#include "tests/model/reference_model.h"
#include "tests/support/packet_builder.h"
#include "tests/support/require_ok.h"
#include "tests/support/skip.h"
#include "tests/support/tc_test_namespace.h"
#include "tests/support/test_bpffs.h"

using namespace bpfproxy;
using namespace bpfproxy::modeltest;

namespace {
struct Destination {
  IpAddress address;
  uint16_t port;
  uint8_t proto;
};

std::vector<Destination> destinations() {
  Pools pools;
  std::vector<Destination> all;
  auto add = [&](const std::string& address, uint16_t port, uint8_t proto) {
    all.push_back({*IpAddress::parse(address), port, proto});
  };
  for (const auto& a : pools.clusterIps) {
    add(a, 80, BPX_PROTO_TCP);
    add(a, 53, BPX_PROTO_UDP);
    add(a, 81, BPX_PROTO_TCP);  // a port no Service defines
  }
  for (uint16_t port : pools.nodePorts) {
    add("192.168.1.1", port, BPX_PROTO_TCP);
    add("192.168.1.1", port, BPX_PROTO_UDP);
  }
  for (const auto& a : pools.loadBalancerIps) add(a, 80, BPX_PROTO_TCP), add(a, 53, BPX_PROTO_UDP);
  for (const auto& a : pools.externalIps) add(a, 80, BPX_PROTO_TCP), add(a, 53, BPX_PROTO_UDP);
  add("10.32.0.99", 80, BPX_PROTO_TCP);   // in the service CIDR, no Service's
  add("10.200.0.2", 8080, BPX_PROTO_TCP); // a pod, directly
  return all;
}

// The flows run after a step: the same few clients again and again, so sticky state is
// exercised across changes. Derived from the step's seed alone, so a shrunk sequence
// replays them.
std::vector<Flow> flowsAfter(const Step& step, size_t count) {
  static const std::vector<Destination> all = destinations();
  std::mt19937_64 rng(step.flowSeed);
  auto below = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  std::vector<Flow> flows;
  for (size_t i = 0; i < count; ++i) {
    const Destination& d = all[below(all.size())];
    Flow flow;
    flow.dst = d.address;
    flow.dport = d.port;
    flow.proto = d.proto;
    switch (below(6)) {
      case 0: case 1: case 2: {  // a pod (or, netns 1, the node) through the socket hooks
        flow.path = Path::kSocket;
        flow.netns = 1 + below(3);
        flow.src = socketClient(flow.netns);
        flow.sendmsg = d.proto == BPX_PROTO_UDP && below(3) != 0;
        // Two long-lived sockets per client, or another of its sockets (a bounded pool: the
        // harness keeps per-socket state in a map of 4096).
        flow.socket = flow.netns * 1000 + (below(3) == 0 ? 2 + below(62) : below(2));
        if (!flow.sendmsg) flow.socket += 500;  // connecting sockets are others
        break;
      }
      case 3: case 4:  // an outside client
        flow.path = Path::kTcNode;
        flow.src = below(3) ? ip("192.168.1.100") : ip("192.168.1.101");
        flow.sport = static_cast<uint16_t>(40000 + below(3));
        break;
      default:  // the pod that bypasses the socket hooks
        flow.path = Path::kTcPod;
        flow.src = kBypassPod;
        flow.sport = static_cast<uint16_t>(41000 + below(2));
    }
    flows.push_back(flow);
  }
  return flows;
}

struct Failure {
  size_t step = 0;
  std::string message;
};

// The reference side of sticky state, and the check of every flow.
class Checker {
public:
  explicit Checker(const NodeView& node) : node_(node) {}

  // After a step: a frontend whose owner changed starts over; a sticky choice whose backend
  // the model no longer keeps is forgotten (the datapath may pick again).
  void stepped(const Cluster& cluster) {
    static const std::vector<Destination> all = destinations();
    for (const auto& d : all) {
      Flow probe;
      probe.dst = d.address;
      probe.dport = d.port;
      probe.proto = d.proto;
      auto e = expect(cluster, node_, probe);
      // bpfproxy restarts sticky state when externalTrafficPolicy changes (kube-proxy keeps
      // ClientIP affinity then): an open difference, so a change starts over here.
      std::string owner = e.service.empty() ? "" : e.service + (e.affinity ? "+affinity" : "") + "/" + e.externalPolicy;
      auto key = e.frontend.empty() ? formatEndpoint(d.address, d.port) + "/" + std::to_string(d.proto) : e.frontend;
      auto& [current, epoch] = owners_[key];
      if (current != owner) current = owner, epoch = ++epochs_;
    }
    for (auto it = sticky_.begin(); it != sticky_.end();) {
      auto e = expect(cluster, node_, it->second.flow);
      bool keep = owners_[e.frontend].second == it->second.epoch && allowedBackend(e, it->second.backend);
      it = keep ? std::next(it) : sticky_.erase(it);
    }
  }

  // "" when the datapath's answer is one the model allows.
  std::string check(const Cluster& cluster, const Flow& flow, const Observed& observed) {
    auto e = expect(cluster, node_, flow);
    std::vector<const Answer*> matching;  // kube-proxy's answer first, then known divergences
    if (e.strict.allows(observed.outcome, observed.backend)) matching.push_back(&e.strict);
    for (const auto& d : e.divergences)
      if (d.allows(observed.outcome, observed.backend)) matching.push_back(&d);
    for (const auto& open : e.openFlows)
      if (open.allows(observed.outcome, observed.backend)) matching.push_back(&open);
    if (matching.empty()) {
      std::ostringstream why;
      why << "got " << observed.toString() << ", the model allows " << e.strict.toString();
      for (const auto& d : e.divergences) why << " or " << d.toString();
      for (const auto& open : e.openFlows) why << " or, for an open flow, " << open.toString();
      return why.str();
    }
    const Answer* used = matching.front();
    std::string failure;
    if (observed.outcome == Outcome::kTranslate) {
      auto key = stickyKey(flow, e);
      auto found = key.empty() ? sticky_.end() : sticky_.find(key);
      if (found != sticky_.end() && found->second.epoch == owners_[e.frontend].second &&
          found->second.backend != observed.backend) {
        // Moving is wrong only if every answer that allows this one still lists the old backend.
        auto moved = std::find_if(matching.begin(), matching.end(),
                                  [&](const Answer* a) { return !a->backends.count(found->second.backend); });
        if (moved == matching.end())
          failure = "got " + observed.backend.toString() + " but " + found->second.backend.toString() +
                    " is still allowed and sticky (" + key + ")";
        else
          used = *moved;
      }
      if (failure.empty() && used->keepsClientAddress && flow.path == Path::kTcNode && observed.src != flow.src)
        failure = "source translated to " + observed.src.toString() + " though " + used->rule;
      if (!key.empty()) sticky_[key] = {observed.backend, owners_[e.frontend].second, flow};
      if (flow.path == Path::kSocket) rememberPeer(flow.socket, e.frontend);
    }
    if (used != &e.strict) (isDivergence(e, used) ? divergencesSeen_ : openFlowsSeen_)[used->rule]++;
    return failure;
  }

  const std::map<std::string, size_t>& divergencesSeen() const { return divergencesSeen_; }
  const std::map<std::string, size_t>& openFlowsSeen() const { return openFlowsSeen_; }

private:
  struct Sticky {
    Backend backend;
    uint64_t epoch = 0;
    Flow flow;
  };

  static bool isDivergence(const Expected& e, const Answer* answer) {
    return std::any_of(e.divergences.begin(), e.divergences.end(), [&](const Answer& d) { return &d == answer; });
  }

  // A sticky choice survives a step only if every rule the datapath may be following keeps
  // the backend: under a known divergence that drops it, the datapath may pick again.
  static bool allowedBackend(const Expected& e, const Backend& backend) {
    if (!e.strict.allows(Outcome::kTranslate, backend)) return false;
    for (const auto& d : e.divergences)
      if (d.outcomes.count(Outcome::kTranslate) && !d.backends.count(backend)) return false;
    return true;
  }

  // A socket keeps its backend for BPX_SOCK_PEERS frontends: one more reuses a peer. Which one
  // is the datapath's business, so all of that socket's choices are forgotten then.
  void rememberPeer(uint64_t socket, const std::string& frontend) {
    auto& peers = peers_[socket];
    if (peers.count(frontend)) return;
    if (peers.size() >= BPX_SOCK_PEERS) {
      for (const auto& old : peers) sticky_.erase("udp socket " + std::to_string(socket) + " " + old);
      peers.clear();
    }
    peers.insert(frontend);
  }

  // What must keep a flow on its backend: ClientIP affinity (per client network namespace,
  // socket path), an unconnected UDP socket, a TC flow's conntrack entry.
  static std::string stickyKey(const Flow& flow, const Expected& e) {
    if (flow.path == Path::kSocket) {
      if (e.affinity) return "affinity netns " + std::to_string(flow.netns) + " " + e.frontend;
      if (flow.sendmsg) return "udp socket " + std::to_string(flow.socket) + " " + e.frontend;
      return "";
    }
    return "conntrack " + flow.toString();
  }

  const NodeView& node_;
  std::map<std::string, std::pair<std::string, uint64_t>> owners_;  // frontend -> owner, epoch
  uint64_t epochs_ = 0;
  std::map<std::string, Sticky> sticky_;
  std::map<uint64_t, std::set<std::string>> peers_;  // frontends each socket keeps a backend for
  std::map<std::string, size_t> divergencesSeen_;
  std::map<std::string, size_t> openFlowsSeen_;  // open flows kept where new ones get none
};

constexpr size_t kFlowsPerStep = 10;

// Replays steps on empty maps; the first disagreement, if any.
std::optional<Failure> replay(ChurnDatapath& datapath, const std::vector<Step>& steps, Checker* keep = nullptr) {
  datapath.reset();
  Cluster cluster;
  Checker local(datapath.node());
  Checker& checker = keep ? *keep : local;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& step = steps[i];
    if (apply(cluster, datapath.node(), step).empty()) {
      if (auto error = datapath.sync(cluster, serviceOf(step)); !error.empty())
        return Failure{i, "the reconciler failed: " + error};
    }
    checker.stepped(cluster);
    for (const auto& flow : flowsAfter(step, kFlowsPerStep)) {
      auto observed = datapath.run(flow);
      if (auto why = checker.check(cluster, flow, observed); !why.empty())
        return Failure{i, flow.toString() + ": " + why};
    }
  }
  return std::nullopt;
}

// The datapath picks at random, so a candidate counts as failing if any of a few tries fails.
std::optional<Failure> replayFails(ChurnDatapath& datapath, const std::vector<Step>& steps) {
  for (int attempt = 0; attempt < 3; ++attempt)
    if (auto failure = replay(datapath, steps)) return failure;
  return std::nullopt;
}

// Deletes chunks of steps, then single steps, while the sequence still fails.
std::vector<Step> shrink(ChurnDatapath& datapath, std::vector<Step> steps, Failure& failure) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (size_t chunk = steps.size() / 2; chunk >= 1; chunk /= 2) {
    for (size_t start = 0; start + chunk <= steps.size();) {
      if (std::chrono::steady_clock::now() > deadline) return steps;
      std::vector<Step> candidate(steps.begin(), steps.begin() + start);
      candidate.insert(candidate.end(), steps.begin() + start + chunk, steps.end());
      if (auto shorter = replayFails(datapath, candidate)) {
        candidate.resize(shorter->step + 1);
        steps = std::move(candidate);
        failure = *shorter;
      } else {
        start += chunk;
      }
    }
    if (chunk == 1) break;
  }
  return steps;
}

uint64_t envNumber(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::strtoull(value, nullptr, 0) : fallback;
}

}  // namespace

TEST_CASE("model-based churn: every verdict and backend is one the reference model allows" *
          doctest::timeout(600)) {
  BPX_SKIP_IF_NOT_EMPTY(testing::tcTestsUnavailable());
  // Room for the Maglev tables the churn's lb-algorithm annotations ask for (a small fixed
  // size, as --maglev-table-size gives, keeps each sync's slot writes few).
  ChurnDatapath datapath(4096);
  datapath.modelConfig().maglevTableSize = 31;
  std::vector<uint64_t> seeds{1, 2, 3, 4};
  if (const char* seed = std::getenv("BPFPROXY_CHURN_SEED"); seed && *seed) seeds = {std::strtoull(seed, nullptr, 0)};
  size_t stepsPerSeed = envNumber("BPFPROXY_CHURN_STEPS", 8000 / seeds.size());
  std::map<std::string, size_t> divergences, openFlows;
  for (uint64_t seed : seeds) {
    ChurnGenerator generator(seed);
    Cluster cluster;
    std::vector<Step> steps;
    for (size_t i = 0; i < stepsPerSeed; ++i) {
      steps.push_back(generator.next(cluster));
      apply(cluster, datapath.node(), steps.back());
    }
    Checker checker(datapath.node());
    auto failure = replay(datapath, steps, &checker);
    for (const auto& [rule, count] : checker.divergencesSeen()) divergences[rule] += count;
    for (const auto& [rule, count] : checker.openFlowsSeen()) openFlows[rule] += count;
    if (!failure) continue;
    std::vector<Step> failing(steps.begin(), steps.begin() + failure->step + 1);
    auto shortest = shrink(datapath, failing, *failure);
    std::ostringstream report;
    report << "seed " << seed << " (BPFPROXY_CHURN_SEED=" << seed << " BPFPROXY_CHURN_STEPS=" << stepsPerSeed
           << "): failed after step " << failing.size() << "; shrunk to these " << shortest.size() << " steps:\n";
    for (size_t i = 0; i < shortest.size(); ++i) report << "  " << i + 1 << ". " << shortest[i].toString() << "\n";
    report << "then " << failure->message;
    FAIL(report.str());
  }
  for (const auto& [rule, count] : divergences) MESSAGE("known divergence, accepted " << count << " times: " << rule);
  for (const auto& [rule, count] : openFlows) MESSAGE("open flow kept " << count << " times: " << rule);
  // The annotations were exercised: some open flows outlived a drain or a weight of 0.
  if (seeds.size() > 1) CHECK(!openFlows.empty());
}
