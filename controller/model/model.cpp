#include "controller/model/model.h"

#include <algorithm>
#include <map>
#include <set>

#include "controller/model/lb_choice.h"

namespace bpfproxy::controller {

namespace {

// One endpoint of one ServicePort in one address family, as kube-proxy's endpoint cache
// holds it before the traffic policies choose among them.
struct Candidate {
  IpAddress address;
  uint16_t port = 0;
  bool ready = true;
  bool serving = true;
  bool terminating = false;
  bool local = false;
  const Endpoint* endpoint = nullptr;

  bool hasZoneHint(const std::string& zone) const {
    const auto& hints = endpoint->hintsForZones;
    return std::find(hints.begin(), hints.end(), zone) != hints.end();
  }
  bool hasNodeHint(const std::string& node) const {
    const auto& hints = endpoint->hintsForNodes;
    return std::find(hints.begin(), hints.end(), node) != hints.end();
  }
};

enum class Topology { kAll, kSameZone, kSameNode };

// kube-proxy topology.go: hints are used only when every ready endpoint carries one and at
// least one names this node (zone); node hints win over zone hints. The EndpointSlice
// controller writes hints only for Services that ask (trafficDistribution, topology-mode),
// so the hints alone decide, as in kube-proxy.
Topology topologyMode(const std::vector<Candidate>& candidates, const ModelConfig& config) {
  bool anyReady = false, allNodeHints = true, nodeMatch = false, allZoneHints = true,
       zoneMatch = false;
  for (const auto& candidate : candidates) {
    if (!candidate.ready) continue;
    anyReady = true;
    if (candidate.endpoint->hintsForNodes.empty()) allNodeHints = false;
    else if (candidate.hasNodeHint(config.nodeName)) nodeMatch = true;
    if (candidate.endpoint->hintsForZones.empty()) allZoneHints = false;
    else if (!config.nodeZone.empty() && candidate.hasZoneHint(config.nodeZone)) zoneMatch = true;
  }
  if (!anyReady) return Topology::kAll;
  if (allNodeHints && nodeMatch) return Topology::kSameNode;
  if (allZoneHints && zoneMatch) return Topology::kSameZone;
  return Topology::kAll;
}

bool availableForTopology(const Candidate& candidate, Topology mode, const ModelConfig& config) {
  switch (mode) {
    case Topology::kSameNode: return candidate.hasNodeHint(config.nodeName);
    case Topology::kSameZone: return candidate.hasZoneHint(config.nodeZone);
    case Topology::kAll: return true;
  }
  return true;
}

class FrontendBuilder {
public:
  FrontendBuilder(const Service& service, const std::vector<const EndpointSlice*>& slices,
                  const ModelConfig& config)
      : service_(service), config_(config), lb_(lbChoiceFor(service, config.defaultAlgorithm)) {
    for (const auto& error : lb_.errors) warn(error);
    for (const EndpointSlice* slice : slices) {
      if (slice->serviceKey() != service.key()) {
        warn("EndpointSlice " + slice->meta.namespace_ + "/" + slice->meta.name +
             " belongs to another Service; ignored");
        continue;
      }
      slices_.push_back(slice);
    }
    // Merge order decides which duplicate wins: make it independent of delivery order.
    std::sort(slices_.begin(), slices_.end(),
              [](const EndpointSlice* a, const EndpointSlice* b) { return a->meta.name < b->meta.name; });
  }

  ModelResult build() {
    if (service_.type == "ExternalName" || service_.isHeadless()) return std::move(result_);
    std::set<bool> families;  // true = IPv4
    for (const auto& text : service_.clusterIPs) {
      auto address = IpAddress::parse(text);
      if (!address) {
        warn("clusterIP \"" + text + "\" is not a valid IP address; skipped");
        continue;
      }
      if (auto why = specialAddressReason(*address); !why.empty()) {
        warn("clusterIP " + text + " is " + why + "; skipped");
        continue;
      }
      families.insert(address->isV4());
      addClusterIp(*address);
    }
    for (const auto& text : service_.externalIPs)
      addExternal(text, BPX_SVC_TYPE_EXTERNAL_IP, BPX_SVC_F_EXTERNAL_IP, families, "externalIP");
    std::vector<Cidr> sourceRanges;
    for (const auto& text : service_.loadBalancerSourceRanges) {
      if (auto cidr = Cidr::parse(text)) sourceRanges.push_back(*cidr);
      else warn("loadBalancerSourceRanges entry \"" + text + "\" is not a CIDR; skipped");
    }
    for (const auto& ingress : service_.loadBalancerIngress) {
      if (ingress.ip.empty()) continue;  // hostname-only ingress: nothing to intercept
      uint16_t flags = BPX_SVC_F_LOADBALANCER | (ingress.ipMode == "Proxy" ? BPX_SVC_F_LB_PROXY : 0);
      // Source ranges guard the load-balancer addresses, as in kube-proxy.
      if (!sourceRanges.empty()) flags |= BPX_SVC_F_SOURCE_RANGES;
      addExternal(ingress.ip, BPX_SVC_TYPE_LOAD_BALANCER, flags, families, "loadBalancer ingress",
                  sourceRanges);
    }
    for (bool v4 : families) {
      IpAddress any = v4 ? IpAddress::fromV4(0) : IpAddress();
      for (const auto& port : service_.ports) {
        if (port.nodePort == 0) continue;
        if (!config_.nodePortRange.contains(port.nodePort)) {
          warn("nodePort " + std::to_string(port.nodePort) + " is outside the NodePort range " +
               config_.nodePortRange.toString() + "; skipped");
          continue;
        }
        add({any, port.nodePort, static_cast<uint8_t>(port.protocol)}, BPX_SVC_TYPE_NODE_PORT,
            BPX_SVC_F_NODEPORT | externalFlags(), port.name, externalBackends(v4, port));
      }
    }
    addInternalViews();
    for (auto& [key, frontend] : frontends_) result_.frontends.push_back(std::move(frontend));
    return std::move(result_);
  }

private:
  void addClusterIp(const IpAddress& address) {
    for (const auto& port : service_.ports) {
      const bool local = service_.internalTrafficPolicy == "Local";
      add({address, port.port, static_cast<uint8_t>(port.protocol)}, BPX_SVC_TYPE_CLUSTER_IP,
          BPX_SVC_F_CLUSTER_IP | affinityFlag(), port.name,
          local ? localBackends(address.isV4(), port) : clusterBackends(address.isV4(), port));
    }
    bool inServiceCidr = std::any_of(config_.serviceCidrs.begin(), config_.serviceCidrs.end(),
                                     [&](const Cidr& cidr) { return cidr.contains(address); });
    // Refuses ports the Service does not define, instead of letting them reach nothing.
    if (inServiceCidr)
      add({address, 0, BPX_PROTO_ANY}, BPX_SVC_TYPE_CLUSTER_IP, BPX_SVC_F_WILDCARD, "", {});
  }

  void addExternal(const std::string& text, uint8_t type, uint16_t flags,
                   const std::set<bool>& families, const std::string& what,
                   const std::vector<Cidr>& sourceRanges = {}) {
    auto address = IpAddress::parse(text);
    if (!address) {
      warn(what + " \"" + text + "\" is not a valid IP address; skipped");
      return;
    }
    if (auto why = specialAddressReason(*address); !why.empty()) {
      warn(what + " " + text + " is " + why + "; skipped");
      return;
    }
    if (!families.count(address->isV4())) {
      warn(what + " " + text + " is of a family the Service has no clusterIP in; skipped");
      return;
    }
    for (const auto& port : service_.ports) {
      FrontendKey key{*address, port.port, static_cast<uint8_t>(port.protocol)};
      add(key, type, flags | externalFlags(), port.name, externalBackends(address->isV4(), port));
      // Ranges of the address's own family; none left means no client may pass.
      auto added = frontends_.find(key);
      if (added == frontends_.end() || !(flags & BPX_SVC_F_SOURCE_RANGES)) continue;
      for (const auto& cidr : sourceRanges)
        if (cidr.network().isV4() == address->isV4()) added->second.sourceRanges.push_back(cidr);
    }
  }

  void add(const FrontendKey& key, uint8_t type, uint16_t flags, const std::string& portName,
           std::vector<BackendSpec> backends) {
    if (frontends_.count(key)) {
      warn("frontend " + formatEndpoint(key.address, key.port) + "/" + std::to_string(key.proto) +
           " defined twice; kept the first");
      return;
    }
    FrontendSpec frontend;
    frontend.key = key;
    frontend.type = type;
    frontend.flags = flags;
    if (flags & BPX_SVC_F_AFFINITY) frontend.affinityTimeoutSeconds = service_.sessionAffinityTimeoutSeconds;
    if (!(flags & BPX_SVC_F_WILDCARD)) {
      if (metricsOptedIn(service_)) frontend.flags |= BPX_SVC_F_METRICS;
      frontend.algorithm = lb_.algorithm;
      frontend.maglevTableSize = config_.maglevTableSize;
      frontend.slowStartSeconds = lb_.slowStartSeconds;
      frontend.drainAfterSeconds = lb_.drainAfterSeconds;
    }
    frontend.namespace_ = service_.meta.namespace_;
    frontend.name = service_.meta.name;
    frontend.portName = portName;
    std::sort(backends.begin(), backends.end());
    backends.erase(std::unique(backends.begin(), backends.end()), backends.end());
    frontend.backends = std::move(backends);
    frontends_.emplace(key, std::move(frontend));
  }

  // externalTrafficPolicy Local restricts only clients outside the cluster: pods and the
  // node reaching a Local frontend get every endpoint (kube-proxy's short-circuit to the
  // cluster chain), through a twin entry of scope INTERNAL.
  void addInternalViews() {
    std::vector<FrontendSpec> views;
    for (const auto& [key, frontend] : frontends_) {
      if (!(frontend.flags & BPX_SVC_F_LOCAL) || (frontend.flags & BPX_SVC_F_LB_PROXY)) continue;
      FrontendSpec view = frontend;
      view.key.scope = BPX_SVC_SCOPE_INTERNAL;
      view.flags &= ~BPX_SVC_F_LOCAL;
      auto* port = servicePort(key.proto, frontend.portName);
      view.backends = port ? clusterBackends(key.address.isV4(), *port) : std::vector<BackendSpec>{};
      std::sort(view.backends.begin(), view.backends.end());
      views.push_back(std::move(view));
    }
    for (auto& view : views) frontends_.emplace(view.key, std::move(view));
  }

  const ServicePort* servicePort(uint8_t proto, const std::string& name) const {
    for (const auto& port : service_.ports)
      if (static_cast<uint8_t>(port.protocol) == proto && port.name == name) return &port;
    return nullptr;
  }

  uint16_t affinityFlag() const {
    return service_.sessionAffinity == "ClientIP" ? BPX_SVC_F_AFFINITY : 0;
  }

  uint16_t externalFlags() const {
    return affinityFlag() | (service_.externalTrafficPolicy == "Local" ? BPX_SVC_F_LOCAL : 0);
  }

  std::vector<BackendSpec> externalBackends(bool v4, const ServicePort& port) {
    return service_.externalTrafficPolicy == "Local" ? localBackends(v4, port)
                                                      : clusterBackends(v4, port);
  }

  // Ready endpoints allowed by topology; when none is ready anywhere, the serving
  // terminating ones (KEP-1669) so connections drain instead of failing. With
  // bpfproxy.io/terminating-fallback drain(-after) they stay listed for the open flows and
  // the reconciler marks the frontend drained (no new flows), at once or after the window.
  std::vector<BackendSpec> clusterBackends(bool v4, const ServicePort& port) {
    const auto& candidates = candidatesFor(v4, port);
    Topology mode = topologyMode(candidates, config_);
    std::vector<BackendSpec> backends;
    for (const auto& candidate : candidates)
      if (candidate.ready && availableForTopology(candidate, mode, config_))
        backends.push_back(backend(candidate, port, BPX_BACKEND_ACTIVE));
    if (!backends.empty()) return backends;
    for (const auto& candidate : candidates)
      if (candidate.serving && candidate.terminating)
        backends.push_back(backend(candidate, port, BPX_BACKEND_TERMINATING));
    return backends;
  }

  // This node's ready endpoints, else its serving terminating ones; no fallback to other
  // nodes: that is what Local promises.
  std::vector<BackendSpec> localBackends(bool v4, const ServicePort& port) {
    std::vector<BackendSpec> backends;
    const auto& candidates = candidatesFor(v4, port);
    for (const auto& candidate : candidates)
      if (candidate.local && candidate.ready)
        backends.push_back(backend(candidate, port, BPX_BACKEND_ACTIVE));
    if (!backends.empty()) return backends;
    for (const auto& candidate : candidates)
      if (candidate.local && candidate.serving && candidate.terminating)
        backends.push_back(backend(candidate, port, BPX_BACKEND_TERMINATING));
    return backends;
  }

  BackendSpec backend(const Candidate& candidate, const ServicePort& port, uint8_t state) const {
    BackendSpec spec;
    spec.address = candidate.address;
    spec.port = candidate.port;
    spec.proto = static_cast<uint8_t>(port.protocol);
    spec.state = state;
    spec.local = candidate.local;
    spec.nodeName = candidate.endpoint->nodeName;
    spec.zone = candidate.endpoint->zone;
    spec.weight = lb_.weights.weightOf(candidate.address, spec.zone);
    return spec;
  }

  // The endpoints of one ServicePort: slice ports matched by name and protocol (which is
  // how named targetPorts resolve), deduplicated by ip:port, the first slice winning.
  const std::vector<Candidate>& candidatesFor(bool v4, const ServicePort& servicePort) {
    auto cacheKey = std::make_tuple(v4, servicePort.name, servicePort.protocol);
    auto cached = candidates_.find(cacheKey);
    if (cached != candidates_.end()) return cached->second;
    std::vector<Candidate>& candidates = candidates_[cacheKey];
    std::set<std::pair<IpAddress, uint16_t>> seen;
    const std::string addressType = v4 ? "IPv4" : "IPv6";
    for (const EndpointSlice* slice : slices_) {
      if (slice->addressType != addressType) continue;
      for (const auto& slicePort : slice->ports) {
        if (slicePort.name.value_or("") != servicePort.name ||
            slicePort.protocol != servicePort.protocol || slicePort.port.value_or(0) == 0)
          continue;
        for (const auto& endpoint : slice->endpoints) {
          // Like kube-proxy: an endpoint's first address is the one that is used.
          if (endpoint.addresses.empty()) continue;
          auto address = IpAddress::parse(endpoint.addresses.front());
          if (!address || address->isV4() != v4) {
            warn("EndpointSlice " + slice->meta.name + ": address \"" + endpoint.addresses.front() +
                 "\" is not a valid " + addressType + " address; skipped");
            continue;
          }
          if (auto why = endpointAddressReason(*address); !why.empty()) {
            warn("EndpointSlice " + slice->meta.name + ": endpoint " + endpoint.addresses.front() + " is " +
                 why + "; skipped");
            continue;
          }
          if (!seen.insert({*address, *slicePort.port}).second) continue;
          Candidate candidate;
          candidate.address = *address;
          candidate.port = *slicePort.port;
          // API semantics: ready and serving absent mean true, terminating absent false.
          candidate.ready = endpoint.conditions.ready.value_or(true);
          candidate.serving = endpoint.conditions.serving.value_or(true);
          candidate.terminating = endpoint.conditions.terminating.value_or(false);
          candidate.local = !endpoint.nodeName.empty() && endpoint.nodeName == config_.nodeName;
          candidate.endpoint = &endpoint;
          candidates.push_back(candidate);
        }
      }
    }
    return candidates;
  }

  // An endpoint must be a pod or a node somewhere else: not a special address, and not a
  // Service address (a backend inside the service CIDR would send traffic round the proxy).
  std::string endpointAddressReason(const IpAddress& address) const {
    if (auto why = specialAddressReason(address); !why.empty()) return why;
    for (const auto& cidr : config_.serviceCidrs)
      if (cidr.contains(address)) return "inside the service CIDR " + cidr.toString();
    return "";
  }

  void warn(const std::string& message) {
    std::string full = "Service " + service_.key().toString() + ": " + message;
    if (std::find(result_.warnings.begin(), result_.warnings.end(), full) == result_.warnings.end())
      result_.warnings.push_back(std::move(full));
  }

  const Service& service_;
  const ModelConfig& config_;
  ModelResult result_;  // before lb_: its errors are warnings
  LbChoice lb_;
  std::vector<const EndpointSlice*> slices_;
  std::map<std::tuple<bool, std::string, Protocol>, std::vector<Candidate>> candidates_;
  std::map<FrontendKey, FrontendSpec> frontends_;
};

}  // namespace

bool metricsOptedIn(const Service& service) {
  auto it = service.meta.annotations.find(kMetricsAnnotation);
  return it != service.meta.annotations.end() && it->second == "true";
}

ModelResult buildServiceFrontends(const Service& service,
                                  const std::vector<const EndpointSlice*>& slices,
                                  const ModelConfig& config) {
  return FrontendBuilder(service, slices, config).build();
}

}  // namespace bpfproxy::controller
