#include "controller/model/kube_objects.h"

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

}  // namespace bpfproxy::controller
