#pragma once
// The pure translation from Kubernetes objects to desired datapath state. No I/O: tested
// with tables.
#include <string>
#include <vector>

#include "controller/model/desired_state.h"
#include "controller/model/input_checks.h"
#include "controller/model/kube_objects.h"

namespace bpfproxy::controller {

// Services opt in to per-Service series with this annotation set to "true": their
// frontends get BPX_SVC_F_METRICS (counted per backend), and the number of series stays
// bounded by what operators ask for (and --max-metrics-services).
inline constexpr const char* kMetricsAnnotation = "bpfproxy.io/metrics";
bool metricsOptedIn(const Service& service);

struct ModelConfig {
  std::vector<Cidr> serviceCidrs;  // ClusterIPs inside get a wildcard entry (unknown ports refused)
  std::string nodeName;
  std::string nodeZone;  // this Node's topology.kubernetes.io/zone, "" when unknown
  PortRange nodePortRange;  // nodePorts outside it are not programmed
  uint8_t defaultAlgorithm = BPX_LB_RANDOM;  // --algorithm: Services without the annotation
  uint32_t maglevTableSize = 0;              // --maglev-table-size; 0: automatic
};

struct ModelResult {
  std::vector<FrontendSpec> frontends;  // sorted by key
  std::vector<std::string> warnings;    // things skipped, each naming the object and why
};

// Frontends for one Service from the slices that belong to it (label
// kubernetes.io/service-name). Headless and ExternalName Services yield none.
ModelResult buildServiceFrontends(const Service& service,
                                  const std::vector<const EndpointSlice*>& slices,
                                  const ModelConfig& config);

}  // namespace bpfproxy::controller
