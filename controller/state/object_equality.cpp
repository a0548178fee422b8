#include "controller/state/object_equality.h"

#include <tuple>

namespace bpfproxy::controller {

namespace {

bool same(const ObjectMeta& a, const ObjectMeta& b) {
  return std::tie(a.namespace_, a.name, a.uid, a.labels, a.annotations) ==
         std::tie(b.namespace_, b.name, b.uid, b.labels, b.annotations);
}

bool same(const ServicePort& a, const ServicePort& b) {
  return std::tie(a.name, a.protocol, a.port, a.targetPortNumber, a.targetPortName, a.nodePort) ==
         std::tie(b.name, b.protocol, b.port, b.targetPortNumber, b.targetPortName, b.nodePort);
}

bool same(const LoadBalancerIngress& a, const LoadBalancerIngress& b) {
  return std::tie(a.ip, a.hostname, a.ipMode) == std::tie(b.ip, b.hostname, b.ipMode);
}

bool same(const Endpoint& a, const Endpoint& b) {
  const auto& ca = a.conditions;
  const auto& cb = b.conditions;
  return std::tie(a.addresses, ca.ready, ca.serving, ca.terminating, a.nodeName, a.zone,
                  a.hintsForZones, a.hintsForNodes) ==
         std::tie(b.addresses, cb.ready, cb.serving, cb.terminating, b.nodeName, b.zone,
                  b.hintsForZones, b.hintsForNodes);
}

bool same(const EndpointPort& a, const EndpointPort& b) {
  return std::tie(a.name, a.protocol, a.port) == std::tie(b.name, b.protocol, b.port);
}

template <typename T>
bool same(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!same(a[i], b[i])) return false;
  return true;
}

}  // namespace

bool same(const Service& a, const Service& b) {
  return same(a.meta, b.meta) && same(a.ports, b.ports) &&
         same(a.loadBalancerIngress, b.loadBalancerIngress) &&
         std::tie(a.type, a.clusterIPs, a.ipFamilies, a.externalIPs, a.externalName,
                  a.sessionAffinity, a.sessionAffinityTimeoutSeconds, a.externalTrafficPolicy,
                  a.internalTrafficPolicy, a.trafficDistribution, a.healthCheckNodePort,
                  a.loadBalancerSourceRanges) ==
             std::tie(b.type, b.clusterIPs, b.ipFamilies, b.externalIPs, b.externalName,
                      b.sessionAffinity, b.sessionAffinityTimeoutSeconds, b.externalTrafficPolicy,
                      b.internalTrafficPolicy, b.trafficDistribution, b.healthCheckNodePort,
                      b.loadBalancerSourceRanges);
}

bool same(const EndpointSlice& a, const EndpointSlice& b) {
  return same(a.meta, b.meta) && a.addressType == b.addressType &&
         same(a.endpoints, b.endpoints) && same(a.ports, b.ports);
}

}  // namespace bpfproxy::controller
