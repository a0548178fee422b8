// Micro-benchmarks of the control plane without the kernel: the model building one
// Service's frontends, and the reconciler programming N Services of 10 endpoints (cold) and
// one endpoint change at N, against an in-memory writer. What the real maps add on top is
// measured end to end by scripts/bench.sh.
#include <benchmark/benchmark.h>

#include <unordered_map>

#include "controller/model/model.h"
#include "controller/sync/reconciler.h"

namespace {

using namespace bpfproxy;
using namespace bpfproxy::controller;

constexpr int kEndpoints = 10;

// Counts writes into hash maps, as the kernel's would hold them.
class MemoryWriter : public maps::DatapathWriter {
public:
  int putBackend(uint32_t id, const bpx_backend& b) override { backends_[id] = b; return 0; }
  int deleteBackend(uint32_t id) override { backends_.erase(id); return 0; }
  int putSlot(const bpx_slot_key& k, const bpx_slot_value& v) override { slots_[pack(k)] = v; return 0; }
  int deleteSlot(const bpx_slot_key& k) override { slots_.erase(pack(k)); return 0; }
  int putService(const bpx_svc_key& k, const bpx_svc_value& v) override { services_[key(k)] = v; return 0; }
  int deleteService(const bpx_svc_key& k) override { services_.erase(key(k)); return 0; }
  int putMeta(uint32_t id, const bpx_svc_meta& m) override { meta_[id] = m; return 0; }
  int deleteMeta(uint32_t id) override { meta_.erase(id); return 0; }
  int putGenerationFloor(uint32_t) override { return 0; }
  int deleteServiceStats(uint32_t, uint32_t) override { return 0; }

private:
  static uint64_t pack(const bpx_slot_key& k) { return uint64_t{k.svc_id} << 24 | uint64_t{k.index} << 8 | k.bank; }
  static std::string key(const bpx_svc_key& k) { return {reinterpret_cast<const char*>(&k), sizeof(k)}; }
  std::unordered_map<uint32_t, bpx_backend> backends_;
  std::unordered_map<uint64_t, bpx_slot_value> slots_;
  std::unordered_map<std::string, bpx_svc_value> services_;
  std::unordered_map<uint32_t, bpx_svc_meta> meta_;
};

std::string v4(uint32_t hostOrder) {
  return std::to_string(hostOrder >> 24) + "." + std::to_string(hostOrder >> 16 & 255) + "." +
         std::to_string(hostOrder >> 8 & 255) + "." + std::to_string(hostOrder & 255);
}

// The same shapes as bench/gen_manifests.py: Service i at 10.32.0.10 + i, endpoints from 10.64.0.1.
Service makeService(int i) {
  Service service;
  service.meta.namespace_ = "bench";
  service.meta.name = "svc-" + std::to_string(i);
  service.clusterIPs = {v4((10u << 24 | 32u << 16) + 10 + static_cast<uint32_t>(i))};
  service.ports.push_back({"http", Protocol::TCP, 80, 8080, "", 0});
  return service;
}

EndpointSlice makeSlice(int i, uint32_t firstEndpoint) {
  EndpointSlice slice;
  slice.meta.namespace_ = "bench";
  slice.meta.name = "svc-" + std::to_string(i) + "-abc";
  slice.meta.labels["kubernetes.io/service-name"] = "svc-" + std::to_string(i);
  slice.addressType = "IPv4";
  for (int j = 0; j < kEndpoints; ++j) {
    Endpoint endpoint;
    endpoint.addresses = {v4(firstEndpoint + static_cast<uint32_t>(j))};
    endpoint.conditions.ready = true;
    endpoint.nodeName = "server";
    slice.endpoints.push_back(endpoint);
  }
  slice.ports.push_back({std::string("http"), Protocol::TCP, uint16_t{8080}});
  return slice;
}

uint32_t endpointBase(int i) { return (10u << 24 | 64u << 16) + 1 + static_cast<uint32_t>(i) * kEndpoints; }

ModelConfig config() {
  ModelConfig model;
  model.serviceCidrs = {*Cidr::parse("10.32.0.0/16")};
  model.nodeName = "client";
  return model;
}

struct Cluster {
  std::vector<Service> services;
  std::vector<EndpointSlice> slices;
  explicit Cluster(int n) {
    for (int i = 0; i < n; ++i) {
      services.push_back(makeService(i));
      slices.push_back(makeSlice(i, endpointBase(i)));
    }
  }
  std::vector<FrontendSpec> frontends(int i, const ModelConfig& model) const {
    return buildServiceFrontends(services[i], {&slices[i]}, model).frontends;
  }
};

void BM_ModelOneService(benchmark::State& state) {
  Cluster cluster(1);
  auto model = config();
  for (auto _ : state) benchmark::DoNotOptimize(cluster.frontends(0, model));
}
BENCHMARK(BM_ModelOneService);

// Cold start: every Service built and applied, as the agent's first sync does.
void BM_ColdSync(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Cluster cluster(n);
  auto model = config();
  for (auto _ : state) {
    MemoryWriter writer;
    Reconciler reconciler(writer, 65536, 262144);
    for (int i = 0; i < n; ++i) reconciler.apply(cluster.services[i].key(), cluster.frontends(i, model));
    benchmark::DoNotOptimize(reconciler.frontendCount());
  }
  state.counters["services"] = n;
}
BENCHMARK(BM_ColdSync)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// One endpoint of one Service replaced (and put back) with N Services programmed.
void BM_EndpointChange(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Cluster cluster(n);
  auto model = config();
  MemoryWriter writer;
  Reconciler reconciler(writer, 65536, 262144);
  for (int i = 0; i < n; ++i) reconciler.apply(cluster.services[i].key(), cluster.frontends(i, model));
  const int probe = n / 2;
  auto original = cluster.slices[probe];
  auto changed = original;
  changed.endpoints[0].addresses = {"10.66.0.1"};
  bool flip = false;
  for (auto _ : state) {
    flip = !flip;
    const auto& slice = flip ? changed : original;
    auto frontends = buildServiceFrontends(cluster.services[probe], {&slice}, model).frontends;
    benchmark::DoNotOptimize(reconciler.apply(cluster.services[probe].key(), frontends));
  }
}
BENCHMARK(BM_EndpointChange)->Arg(10000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
