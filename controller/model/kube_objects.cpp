#include "controller/model/kube_objects.h"

#include <algorithm>

namespace bpfproxy::controller {

std::string toString(Protocol protocol) {
  switch (protocol) {
    case Protocol::TCP: return "TCP";
    case Protocol::UDP: return "UDP";
    case Protocol::SCTP: return "SCTP";
  }
  return "proto-" + std::to_string(static_cast<int>(protocol));
}

std::string EndpointSlice::serviceName() const {
  auto it = meta.labels.find("kubernetes.io/service-name");
  return it == meta.labels.end() ? std::string() : it->second;
}

bool nodeEligible(const Node& node) {
  if (node.beingDeleted) return false;
  return std::find(node.taintKeys.begin(), node.taintKeys.end(), "ToBeDeletedByClusterAutoscaler") ==
         node.taintKeys.end();
}

}  // namespace bpfproxy::controller
