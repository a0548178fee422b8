#pragma once
// Seeded random churn of the API objects: Services of every type created, changed and
// deleted (so the datapath reuses ids), with load-balancing annotations (bpfproxy.io/lb-*,
// terminating-fallback) changing too, slices whose endpoints appear, flip readiness,
// terminate and vanish. Every step writes or deletes one whole object, so a sequence with
// steps left out still replays (that is how a failure is shrunk). Each step also carries
// the seed of the flows run after it.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/model/reference_model.h"

namespace bpfproxy::modeltest {

struct Step {
  enum class Kind { kPutService, kDeleteService, kPutSlice, kDeleteSlice } kind;
  std::string name;  // the Service's or the slice's
  Service service;   // kPutService
  EndpointSlice slice;  // kPutSlice
  uint64_t flowSeed = 0;
  std::string toString() const;  // one line, enough to rebuild the object by hand
};

// The Service a step concerns (a slice's by its label), to sync after it.
std::string serviceOf(const Step& step);

// Applies a step; a Service that the API server would refuse (a frontend that another
// Service has) is not applied and the reason returned. "" when applied.
std::string apply(Cluster& cluster, const NodeView& node, const Step& step);

// The addresses the generator draws from, for flows to aim at.
struct Pools {
  std::vector<std::string> clusterIps{"10.32.0.10", "10.32.0.11", "10.32.0.12", "10.32.0.13", "10.32.0.14"};
  std::vector<std::string> loadBalancerIps{"203.0.113.10", "203.0.113.11"};
  std::vector<std::string> externalIps{"192.168.1.1", "203.0.113.50"};
  std::vector<uint16_t> nodePorts{30001, 30002, 30003};
  std::vector<std::string> serviceNames{"s0", "s1", "s2", "s3"};
  // Endpoints: node1's pods (this node) and node2's.
  std::vector<std::string> localPods{"10.200.0.2", "10.200.0.3", "10.200.0.4"};
  std::vector<std::string> remotePods{"10.200.128.1", "10.200.128.2", "10.200.128.3"};
  std::vector<std::string> sourceRanges{"192.168.1.100/32", "10.200.0.0/17", "172.16.0.0/12"};
};

class ChurnGenerator {
public:
  explicit ChurnGenerator(uint64_t seed) : rng_(seed) {}
  // The next step, given the objects as they are now.
  Step next(const Cluster& cluster);

private:
  Step putService(const Cluster& cluster, const std::string& name);
  Step putSlice(const Cluster& cluster, const std::string& serviceName);
  bool chance(double p) { return std::uniform_real_distribution<>(0, 1)(rng_) < p; }
  template <typename T>
  const T& pick(const std::vector<T>& from) {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng_)];
  }

  std::mt19937_64 rng_;
  Pools pools_;
};

}  // namespace bpfproxy::modeltest
