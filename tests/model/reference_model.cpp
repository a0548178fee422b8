#include "tests/model/reference_model.h"

#include <algorithm>
#include <sstream>

namespace bpfproxy::modeltest {

namespace {

constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;

// Divergence names: each is an open item, printed by the test with how often it was used.
const char* const kRefuseInsteadOfDrop =
    "internalTrafficPolicy Local without a local endpoint is refused, kube-proxy drops";
const char* const kDropInsteadOfRefuse =
    "externalTrafficPolicy Local with no endpoint anywhere is dropped, kube-proxy rejects";

// One endpoint of one Service port, as kube-proxy's endpoint cache holds it.
struct Endpoint {
  Backend backend;
  bool ready = true;
  bool serving = true;
  bool terminating = false;
  bool local = false;
};

enum class Kind { kClusterIp, kNodePort, kExternalIp, kLoadBalancer };

struct Frontend {
  const Service* service = nullptr;
  const controller::ServicePort* port = nullptr;
  Kind kind = Kind::kClusterIp;
  const controller::LoadBalancerIngress* ingress = nullptr;
};

bool hasFrontends(const Service& service) {
  return service.type != "ExternalName" && !service.clusterIPs.empty() &&
         service.clusterIPs.front() != "None";
}

bool equals(const std::string& text, const IpAddress& address) {
  auto parsed = IpAddress::parse(text);
  return parsed && *parsed == address;
}

bool isNodeAddress(const NodeView& node, const IpAddress& address) {
  return std::find(node.addresses.begin(), node.addresses.end(), address) != node.addresses.end();
}

bool inServiceCidr(const NodeView& node, const IpAddress& address) {
  return std::any_of(node.serviceCidrs.begin(), node.serviceCidrs.end(),
                     [&](const Cidr& cidr) { return cidr.contains(address); });
}

bool portMatches(const controller::ServicePort& port, uint16_t number, uint8_t proto) {
  return port.port == number && static_cast<uint8_t>(port.protocol) == proto;
}

// The frontend an address names, in kube-proxy's terms. `knownVip` tells whether the
// address is some Service's ClusterIP at all (for ports it does not define).
std::optional<Frontend> findFrontend(const Cluster& cluster, const NodeView& node, const Flow& flow,
                                     bool* knownVip) {
  *knownVip = false;
  for (const auto& [name, service] : cluster.services) {
    if (!hasFrontends(service)) continue;
    for (const auto& port : service.ports) {
      bool matches = portMatches(port, flow.dport, flow.proto);
      for (const auto& clusterIp : service.clusterIPs) {
        if (!equals(clusterIp, flow.dst)) continue;
        *knownVip = true;
        if (matches) return Frontend{&service, &port, Kind::kClusterIp, nullptr};
      }
      for (const auto& externalIp : service.externalIPs)
        if (matches && equals(externalIp, flow.dst)) return Frontend{&service, &port, Kind::kExternalIp, nullptr};
      if (service.type == "LoadBalancer")
        for (const auto& ingress : service.loadBalancerIngress)
          if (matches && equals(ingress.ip, flow.dst))
            return Frontend{&service, &port, Kind::kLoadBalancer, &ingress};
      if (port.nodePort && port.nodePort == flow.dport && static_cast<uint8_t>(port.protocol) == flow.proto &&
          isNodeAddress(node, flow.dst))
        return Frontend{&service, &port, Kind::kNodePort, nullptr};
    }
  }
  return std::nullopt;
}

// The endpoints of a Service port: slices labelled with the Service's name, matched by
// port name and protocol, deduplicated by address and port.
std::vector<Endpoint> endpointsOf(const Cluster& cluster, const NodeView& node, const Service& service,
                                  const controller::ServicePort& port) {
  std::vector<Endpoint> endpoints;
  std::set<Backend> seen;
  for (const auto& [sliceName, slice] : cluster.slices) {
    if (slice.serviceName() != service.meta.name || slice.addressType != "IPv4") continue;
    for (const auto& slicePort : slice.ports) {
      if (slicePort.name.value_or("") != port.name || slicePort.protocol != port.protocol ||
          !slicePort.port.value_or(0))
        continue;
      for (const auto& endpoint : slice.endpoints) {
        if (endpoint.addresses.empty()) continue;
        auto address = IpAddress::parse(endpoint.addresses.front());
        if (!address || !address->isV4()) continue;
        Backend backend{*address, *slicePort.port};
        if (!seen.insert(backend).second) continue;
        Endpoint e;
        e.backend = backend;
        // The API's defaults: ready and serving absent mean true, terminating false.
        e.ready = endpoint.conditions.ready.value_or(true);
        e.serving = endpoint.conditions.serving.value_or(true);
        e.terminating = endpoint.conditions.terminating.value_or(false);
        e.local = endpoint.nodeName == node.name;
        endpoints.push_back(e);
      }
    }
  }
  return endpoints;
}

// kube-proxy's CategorizeEndpoints: ready endpoints, else serving terminating ones
// (*fallback set then).
std::set<Backend> usable(const std::vector<Endpoint>& endpoints, bool localOnly, bool* fallback = nullptr) {
  std::set<Backend> result;
  if (fallback) *fallback = false;
  for (const auto& e : endpoints)
    if (e.ready && (!localOnly || e.local)) result.insert(e.backend);
  if (!result.empty()) return result;
  for (const auto& e : endpoints)
    if (e.serving && e.terminating && (!localOnly || e.local)) result.insert(e.backend);
  if (fallback) *fallback = !result.empty();
  return result;
}

std::string annotation(const Service& service, const char* name) {
  auto it = service.meta.annotations.find(name);
  return it == service.meta.annotations.end() ? "" : it->second;
}

// bpfproxy.io/lb-weights as the churn writes it: "ADDRESS=W,..." (W 0..3); others weigh 1.
uint32_t weightOf(const Service& service, const Backend& backend) {
  std::stringstream in(annotation(service, "bpfproxy.io/lb-weights"));
  std::string item;
  while (std::getline(in, item, ','))
    if (auto equals = item.find('='); equals != std::string::npos && item.substr(0, equals) == backend.address.toString())
      return static_cast<uint32_t>(std::stoul(item.substr(equals + 1)));
  return 1;
}


Answer outcome(Outcome what, std::string rule) {
  Answer answer;
  answer.outcomes = {what};
  answer.rule = std::move(rule);
  return answer;
}

Answer translate(std::set<Backend> backends, std::string rule) {
  Answer answer;
  answer.outcomes = {Outcome::kTranslate};
  answer.backends = std::move(backends);
  answer.rule = std::move(rule);
  return answer;
}

// Traffic to a frontend with the chosen endpoint set; none: kube-proxy's filter target.
Answer serve(const std::set<Backend>& backends, bool anyEndpoint, bool drop, const std::string& rule) {
  if (!backends.empty()) return translate(backends, rule);
  if (!anyEndpoint) return outcome(Outcome::kRefuse, rule + ": no endpoints, rejected");
  return outcome(drop ? Outcome::kDrop : Outcome::kRefuse, rule + ": no usable endpoint");
}

bool sourceAllowed(const Service& service, const IpAddress& src) {
  if (service.loadBalancerSourceRanges.empty()) return true;
  for (const auto& text : service.loadBalancerSourceRanges)
    if (auto cidr = Cidr::parse(text); cidr && cidr->contains(src)) return true;
  return false;
}

// bpfproxy's annotations on top of kube-proxy's answer for a frontend whose endpoint set is
// `chosen`: bpfproxy.io/terminating-fallback drain refuses new flows when the set is the
// serving-terminating fallback; weight 0 takes a backend out of new flows' choice (unless
// every backend weighs 0: then no table, any). Open flows keep their listed backend.
void applyAnnotations(const Service& service, const std::set<Backend>& chosen, bool fallback, Expected& out) {
  if (chosen.empty() || !out.strict.outcomes.count(Outcome::kTranslate)) return;
  Answer open = translate(chosen, "");
  open.keepsClientAddress = out.strict.keepsClientAddress;
  if (fallback && annotation(service, "bpfproxy.io/terminating-fallback") == "drain") {
    open.rule = "an open flow of a drained Service keeps its backend";
    out.openFlows.push_back(open);
    out.strict = outcome(Outcome::kRefuse, "bpfproxy.io/terminating-fallback drain: only terminating endpoints");
    return;
  }
  std::set<Backend> weighed;
  for (const auto& backend : chosen)
    if (weightOf(service, backend) > 0) weighed.insert(backend);
  if (weighed.empty() || weighed.size() == chosen.size()) return;
  open.rule = "an open flow keeps its backend of weight 0";
  out.openFlows.push_back(open);
  out.strict.backends = weighed;
  out.strict.rule += ", without the backends of weight 0";
}

std::string frontendName(const Flow& flow) {
  return formatEndpoint(flow.dst, flow.dport) + "/" + std::to_string(flow.proto);
}

// A flow from this node (a pod or the node itself): the socket hooks and the pod-facing
// TC programs answer alike.
void expectFromInside(const Frontend& f, const std::vector<Endpoint>& endpoints, const Flow& flow,
                      Expected& out) {
  const Service& service = *f.service;
  bool clusterFallback = false, localFallback = false;
  std::set<Backend> cluster = usable(endpoints, false, &clusterFallback);
  std::set<Backend> local = usable(endpoints, true, &localFallback);
  bool any = !cluster.empty() || !local.empty();
  if (f.kind == Kind::kClusterIp) {
    bool itpLocal = service.internalTrafficPolicy == "Local";
    // kube-proxy: a Service with endpoints, none local under policy Local, drops.
    out.strict = serve(itpLocal ? local : cluster, any, itpLocal, "ClusterIP from inside");
    if (itpLocal && out.strict.outcomes.count(Outcome::kDrop))
      out.divergences.push_back(outcome(Outcome::kRefuse, kRefuseInsteadOfDrop));
    applyAnnotations(service, itpLocal ? local : cluster, itpLocal ? localFallback : clusterFallback, out);
    return;
  }
  // NodePort, externalIP, load-balancer IP from inside: kube-proxy sends pods and the
  // node to the cluster-wide endpoints whatever the external policy says.
  if (f.kind == Kind::kLoadBalancer && !sourceAllowed(service, flow.src)) {
    out.strict = outcome(Outcome::kDrop, "loadBalancerSourceRanges exclude the client");
  } else {
    out.strict = serve(cluster, any, false, "external address from inside: all endpoints");
    applyAnnotations(service, cluster, clusterFallback, out);
  }
}

// A flow from outside the node, arriving on a node device.
void expectFromOutside(const Frontend& f, const std::vector<Endpoint>& endpoints, const Flow& flow,
                       Expected& out) {
  const Service& service = *f.service;
  if (f.kind == Kind::kClusterIp) {
    out.strict = outcome(Outcome::kDrop, "bpfproxy: ClusterIPs are not reachable from outside");
    return;
  }
  if (f.kind == Kind::kLoadBalancer && !sourceAllowed(service, flow.src)) {
    out.strict = outcome(Outcome::kDrop, "loadBalancerSourceRanges exclude the client");
    return;
  }
  bool clusterFallback = false, localFallback = false;
  std::set<Backend> cluster = usable(endpoints, false, &clusterFallback);
  std::set<Backend> local = usable(endpoints, true, &localFallback);
  bool any = !cluster.empty() || !local.empty();
  if (service.externalTrafficPolicy == "Local") {
    out.strict = serve(local, any, true, "externalTrafficPolicy Local from outside");
    out.strict.keepsClientAddress = true;
    if (!any) out.divergences.push_back(outcome(Outcome::kDrop, kDropInsteadOfRefuse));
    applyAnnotations(service, local, localFallback, out);
  } else {
    out.strict = serve(cluster, any, false, "externalTrafficPolicy Cluster from outside");
    applyAnnotations(service, cluster, clusterFallback, out);
  }
}

}  // namespace

std::string toString(Path path) {
  switch (path) {
    case Path::kSocket: return "socket";
    case Path::kTcNode: return "tc-node";
    case Path::kTcPod: return "tc-pod";
  }
  return "?";
}

std::string toString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPass: return "pass";
    case Outcome::kRefuse: return "refuse";
    case Outcome::kDrop: return "drop";
    case Outcome::kTranslate: return "translate";
  }
  return "?";
}

std::string Flow::toString() const {
  std::ostringstream out;
  out << modeltest::toString(path) << " " << formatEndpoint(src, sport) << " -> " << formatEndpoint(dst, dport)
      << (proto == kUdp ? "/UDP" : "/TCP");
  if (path == Path::kSocket)
    out << " netns " << netns << " socket " << socket << (sendmsg ? " sendmsg" : " connect");
  return out.str();
}

bool Answer::allows(Outcome what, const Backend& backend) const {
  if (!outcomes.count(what)) return false;
  return what != Outcome::kTranslate || backends.count(backend);
}

std::string Answer::toString() const {
  std::string text;
  for (auto o : outcomes) text += (text.empty() ? "" : "|") + modeltest::toString(o);
  if (outcomes.count(Outcome::kTranslate)) {
    text += " to {";
    bool first = true;
    for (const auto& b : backends) text += (first ? "" : ", ") + b.toString(), first = false;
    text += "}";
  }
  return text + " (" + rule + ")";
}

Expected expect(const Cluster& cluster, const NodeView& node, const Flow& flow) {
  Expected out;
  bool knownVip = false;
  auto f = findFrontend(cluster, node, flow, &knownVip);
  bool inside = flow.path != Path::kTcNode;
  if (!f) {
    if (knownVip) {
      out.strict = outcome(Outcome::kRefuse, "a port the ClusterIP does not define");
    } else if (inServiceCidr(node, flow.dst)) {
      out.strict = outcome(Outcome::kRefuse, "an address of the service CIDR no Service has");
    } else {
      out.strict = outcome(Outcome::kPass, "no Service");
    }
    return out;
  }
  out.service = f->service->meta.name;
  out.frontend = frontendName(flow);
  out.affinity = f->service->sessionAffinity == "ClientIP";
  out.externalPolicy = f->service->externalTrafficPolicy;
  if (f->kind == Kind::kLoadBalancer && f->ingress->ipMode == "Proxy") {
    out.strict = outcome(Outcome::kPass, "load balancer in Proxy mode: traffic goes to it");
    out.service.clear();
    return out;
  }
  auto endpoints = endpointsOf(cluster, node, *f->service, *f->port);
  if (inside) expectFromInside(*f, endpoints, flow, out);
  else expectFromOutside(*f, endpoints, flow, out);
  // A socket hook cannot drop a packet, only fail the call: where kube-proxy drops, the
  // socket path refuses.
  if (flow.path == Path::kSocket && out.strict.outcomes.count(Outcome::kDrop))
    out.strict.outcomes.insert(Outcome::kRefuse);
  return out;
}

std::string conflict(const Cluster& cluster, const NodeView& node, const Service& service) {
  if (!hasFrontends(service)) return "";
  // Every (address, port, protocol) this Service answers on.
  std::set<std::tuple<std::string, uint16_t, uint8_t>> mine;
  std::set<std::string> myClusterIps(service.clusterIPs.begin(), service.clusterIPs.end());
  auto collect = [&](const Service& s, auto&& add) {
    for (const auto& port : s.ports) {
      auto proto = static_cast<uint8_t>(port.protocol);
      for (const auto& ip : s.externalIPs) add(ip, port.port, proto);
      if (s.type == "LoadBalancer")
        for (const auto& ingress : s.loadBalancerIngress) add(ingress.ip, port.port, proto);
      if (port.nodePort)
        for (const auto& address : node.addresses) add(address.toString(), port.nodePort, proto);
    }
  };
  collect(service, [&](const std::string& ip, uint16_t port, uint8_t proto) { mine.insert({ip, port, proto}); });
  for (const auto& [name, other] : cluster.services) {
    if (name == service.meta.name || !hasFrontends(other)) continue;
    for (const auto& ip : other.clusterIPs)
      if (myClusterIps.count(ip)) return "clusterIP " + ip + " belongs to Service " + name;
    std::string clash;
    collect(other, [&](const std::string& ip, uint16_t port, uint8_t proto) {
      if (mine.count({ip, port, proto})) clash = formatEndpoint(*IpAddress::parse(ip), port);
    });
    if (!clash.empty()) return clash + " belongs to Service " + name;
    // A ClusterIP of one Service used as another's external address.
    for (const auto& [ip, port, proto] : mine)
      for (const auto& clusterIp : other.clusterIPs)
        if (ip == clusterIp) return "address " + ip + " is Service " + name + "'s clusterIP";
  }
  return "";
}

}  // namespace bpfproxy::modeltest
