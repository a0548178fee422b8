#pragma once
// Per-Service load balancing, from annotations: which algorithm picks a new flow's backend
// (bpfproxy.io/lb-algorithm) and how much each endpoint weighs (bpfproxy.io/lb-weights).
// Pure: the model reads it, tests use tables. docs/load-balancing.md says what each does.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/model/kube_objects.h"
#include "maps/ip_address.h"

namespace bpfproxy::controller {

inline constexpr const char* kLbAlgorithmAnnotation = "bpfproxy.io/lb-algorithm";
inline constexpr const char* kLbWeightsAnnotation = "bpfproxy.io/lb-weights";
// What new flows get when no endpoint is ready: "serve" (kube-proxy's: the serving
// terminating ones), "drain" (none: refused, open flows continue) or "drain-after=SECONDS"
// (the serving terminating ones for SECONDS, 1 to kMaxDrainAfterSeconds, then drain).
inline constexpr const char* kTerminatingFallbackAnnotation = "bpfproxy.io/terminating-fallback";
inline constexpr uint32_t kMaxDrainAfterSeconds = 86400;
inline constexpr uint32_t kMaxLbWeight = 100;
// A backend that joins ramps up over this many seconds ("60" or "60s", 1 to 3600), for
// random and round-robin (slow_start.h).
inline constexpr const char* kLbSlowStartAnnotation = "bpfproxy.io/lb-slow-start";

// "random", "maglev", "round-robin" -> BPX_LB_*; nullopt for anything else.
std::optional<uint8_t> parseLbAlgorithm(const std::string& name);
std::string lbAlgorithmName(uint8_t algorithm);  // BPX_LB_* -> "maglev"
// The names the flag, the configuration file and the annotation accept.
const std::vector<std::string>& lbAlgorithmNames();

// bpfproxy.io/lb-weights: "10.200.0.2=3, zone:eu-west-1a=2": an endpoint (its address) or a
// zone, each to an integer 0..kMaxLbWeight. An endpoint's own weight wins over its zone's;
// anything not named weighs 1. 0: no new flows (open ones continue).
struct LbWeights {
  std::map<IpAddress, uint32_t> endpoints;
  std::map<std::string, uint32_t> zones;
  bool empty() const { return endpoints.empty() && zones.empty(); }
  uint32_t weightOf(const IpAddress& address, const std::string& zone) const;
};

struct LbChoice {
  uint8_t algorithm = 0;  // BPX_LB_*
  LbWeights weights;
  // bpfproxy.io/terminating-fallback: nullopt for serve, 0 for drain, N for drain-after=N.
  std::optional<uint32_t> drainAfterSeconds;
  uint32_t slowStartSeconds = 0;
  // Each names the annotation and what was wrong (the model adds the Service); the
  // default algorithm, or no weights, are used instead.
  std::vector<std::string> errors;
};

LbChoice lbChoiceFor(const Service& service, uint8_t defaultAlgorithm);

}  // namespace bpfproxy::controller
