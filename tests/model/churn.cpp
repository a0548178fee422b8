#include "tests/model/churn.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace bpfproxy::modeltest {

namespace {

using controller::Endpoint;
using controller::EndpointPort;
using controller::LoadBalancerIngress;
using controller::Protocol;
using controller::ServicePort;

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
  return "[" + text + "]";
}

std::string describeConditions(const controller::EndpointConditions& c) {
  auto flag = [](const std::optional<bool>& value) { return value ? (*value ? "T" : "F") : "-"; };
  return std::string("ready=") + flag(c.ready) + " serving=" + flag(c.serving) + " terminating=" + flag(c.terminating);
}

std::string describe(const Service& s) {
  std::ostringstream out;
  out << "type=" << s.type << " clusterIPs=" << join(s.clusterIPs) << " ports=[";
  for (size_t i = 0; i < s.ports.size(); ++i) {
    const auto& p = s.ports[i];
    out << (i ? "," : "") << p.name << " " << p.port << "/" << controller::toString(p.protocol);
    if (p.nodePort) out << " nodePort " << p.nodePort;
  }
  out << "] sessionAffinity=" << s.sessionAffinity;
  if (s.sessionAffinity == "ClientIP") out << "(" << s.sessionAffinityTimeoutSeconds << "s)";
  out << " externalTrafficPolicy=" << s.externalTrafficPolicy << " internalTrafficPolicy=" << s.internalTrafficPolicy;
  if (!s.externalIPs.empty()) out << " externalIPs=" << join(s.externalIPs);
  for (const auto& ingress : s.loadBalancerIngress) out << " ingress=" << ingress.ip << "(" << ingress.ipMode << ")";
  if (!s.loadBalancerSourceRanges.empty()) out << " sourceRanges=" << join(s.loadBalancerSourceRanges);
  for (const auto& [name, value] : s.meta.annotations) out << " " << name << "=\"" << value << "\"";
  return out.str();
}

std::string describe(const EndpointSlice& slice) {
  std::ostringstream out;
  out << "service=" << slice.serviceName() << " ports=[";
  for (size_t i = 0; i < slice.ports.size(); ++i)
    out << (i ? "," : "") << slice.ports[i].name.value_or("") << " " << slice.ports[i].port.value_or(0) << "/"
        << controller::toString(slice.ports[i].protocol);
  out << "] endpoints=[";
  for (size_t i = 0; i < slice.endpoints.size(); ++i) {
    const auto& e = slice.endpoints[i];
    out << (i ? ", " : "") << e.addresses.front() << " on " << e.nodeName << " " << describeConditions(e.conditions);
  }
  return out.str() + "]";
}

ServicePort port(const char* name, uint16_t number, Protocol protocol) {
  ServicePort p;
  p.name = name;
  p.port = number;
  p.protocol = protocol;
  return p;
}

// What every other live Service already holds, so a new one does not collide.
struct Taken {
  std::set<std::string> addresses;
  std::set<uint16_t> nodePorts;
};

Taken takenByOthers(const Cluster& cluster, const std::string& name) {
  Taken taken;
  for (const auto& [other, s] : cluster.services) {
    if (other == name) continue;
    taken.addresses.insert(s.clusterIPs.begin(), s.clusterIPs.end());
    taken.addresses.insert(s.externalIPs.begin(), s.externalIPs.end());
    for (const auto& ingress : s.loadBalancerIngress) taken.addresses.insert(ingress.ip);
    for (const auto& p : s.ports)
      if (p.nodePort) taken.nodePorts.insert(p.nodePort);
  }
  return taken;
}

}  // namespace

std::string Step::toString() const {
  switch (kind) {
    case Kind::kPutService: return "put Service " + name + " " + describe(service);
    case Kind::kDeleteService: return "delete Service " + name;
    case Kind::kPutSlice: return "put EndpointSlice " + name + " " + describe(slice);
    case Kind::kDeleteSlice: return "delete EndpointSlice " + name;
  }
  return "?";
}

std::string serviceOf(const Step& step) {
  if (step.kind == Step::Kind::kPutService || step.kind == Step::Kind::kDeleteService) return step.name;
  // Slices are named <service>-<suffix>.
  return step.name.substr(0, step.name.rfind('-'));
}

std::string apply(Cluster& cluster, const NodeView& node, const Step& step) {
  switch (step.kind) {
    case Step::Kind::kPutService:
      if (auto why = conflict(cluster, node, step.service); !why.empty()) return why;
      cluster.services[step.name] = step.service;
      break;
    case Step::Kind::kDeleteService: cluster.services.erase(step.name); break;
    case Step::Kind::kPutSlice: cluster.slices[step.name] = step.slice; break;
    case Step::Kind::kDeleteSlice: cluster.slices.erase(step.name); break;
  }
  return "";
}

Step ChurnGenerator::next(const Cluster& cluster) {
  const std::string& name = pick(pools_.serviceNames);
  Step step;
  double roll = std::uniform_real_distribution<>(0, 1)(rng_);
  if (roll < 0.35) {
    step = putService(cluster, name);
  } else if (roll < 0.45) {
    step.kind = Step::Kind::kDeleteService;
    step.name = name;
  } else if (roll < 0.92) {
    step = putSlice(cluster, name);
  } else {
    step.kind = Step::Kind::kDeleteSlice;
    step.name = name + (chance(0.5) ? "-a" : "-b");
  }
  step.flowSeed = rng_();
  return step;
}

Step ChurnGenerator::putService(const Cluster& cluster, const std::string& name) {
  Taken taken = takenByOthers(cluster, name);
  auto existing = cluster.services.find(name);
  Service s;
  bool fresh = existing == cluster.services.end() || chance(0.25);
  if (!fresh) {
    s = existing->second;
  } else {
    s.meta.namespace_ = "default";
    s.meta.name = name;
    double type = std::uniform_real_distribution<>(0, 1)(rng_);
    s.type = type < 0.3 ? "ClusterIP" : type < 0.55 ? "NodePort" : type < 0.85 ? "LoadBalancer" : "ExternalName";
    std::vector<std::string> free;
    for (const auto& ip : pools_.clusterIps)
      if (!taken.addresses.count(ip)) free.push_back(ip);
    if (s.type == "ExternalName") s.externalName = "example.com";
    else if (free.empty() || chance(0.08)) s.clusterIPs = {"None"};  // headless
    else s.clusterIPs = {pick(free)};
    s.ports.clear();
  }
  // Changes a user makes; a fresh Service gets them all, an existing one one or two.
  int changes = fresh ? 99 : 1 + static_cast<int>(chance(0.4));
  std::vector<int> order{0, 1, 2, 3, 4, 5, 6, 7};
  std::shuffle(order.begin(), order.end(), rng_);
  for (int i = 0; i < std::min<int>(changes, order.size()); ++i) {
    switch (order[i]) {
      case 0: {  // ports
        s.ports.clear();
        bool http = chance(0.8), dns = chance(0.6);
        if (http || !dns) s.ports.push_back(port("http", 80, Protocol::TCP));
        if (dns) s.ports.push_back(port("dns", 53, Protocol::UDP));
        break;
      }
      case 1:
        s.sessionAffinity = chance(0.45) ? "ClientIP" : "None";
        s.sessionAffinityTimeoutSeconds = chance(0.5) ? 10800 : 600;
        break;
      case 2: s.externalTrafficPolicy = chance(0.4) ? "Local" : "Cluster"; break;
      case 3: s.internalTrafficPolicy = chance(0.2) ? "Local" : "Cluster"; break;
      case 4: {
        s.externalIPs.clear();
        const auto& ip = pick(pools_.externalIps);
        if (chance(0.25) && !taken.addresses.count(ip)) s.externalIPs = {ip};
        break;
      }
      case 5: {
        s.loadBalancerIngress.clear();
        const auto& ip = pick(pools_.loadBalancerIps);
        if (chance(0.85) && !taken.addresses.count(ip))
          s.loadBalancerIngress.push_back({ip, "", chance(0.15) ? "Proxy" : "VIP"});
        break;
      }
      case 6:
        s.loadBalancerSourceRanges.clear();
        for (const auto& range : pools_.sourceRanges)
          if (chance(0.3)) s.loadBalancerSourceRanges.push_back(range);
        break;
      case 7: {  // load balancing: the algorithm, weights, the terminating fallback
        static const std::vector<std::string> algorithms{"random", "maglev", "round-robin", "fastest"};
        static const std::vector<std::string> fallbacks{"serve", "drain", "drain-after=3600", "drain-later"};
        static const std::vector<int> weightValues{0, 1, 2, 3};
        auto& annotations = s.meta.annotations;
        annotations.clear();
        if (chance(0.7)) annotations["bpfproxy.io/lb-algorithm"] = pick(algorithms);
        if (chance(0.4)) {
          std::string weights;
          for (const auto* pods : {&pools_.localPods, &pools_.remotePods})
            for (const auto& pod : *pods)
              if (chance(0.4)) weights += (weights.empty() ? "" : ",") + pod + "=" + std::to_string(pick(weightValues));
          annotations["bpfproxy.io/lb-weights"] = weights;
        }
        if (chance(0.5)) annotations["bpfproxy.io/terminating-fallback"] = pick(fallbacks);
        break;
      }
    }
  }
  if (s.type != "LoadBalancer") s.loadBalancerIngress.clear();
  if (s.type == "ExternalName") s.ports.clear();
  // NodePorts for the types that have them, kept across changes like the API server does.
  for (auto& p : s.ports) {
    if (s.type != "NodePort" && s.type != "LoadBalancer") {
      p.nodePort = 0;
      continue;
    }
    if (p.nodePort && !taken.nodePorts.count(p.nodePort)) continue;
    p.nodePort = 0;
    std::vector<uint16_t> free;
    for (uint16_t n : pools_.nodePorts)
      if (!taken.nodePorts.count(n) && std::none_of(s.ports.begin(), s.ports.end(),
                                                     [&](const ServicePort& q) { return q.nodePort == n; }))
        free.push_back(n);
    if (!free.empty()) p.nodePort = pick(free);
  }
  Step step;
  step.kind = Step::Kind::kPutService;
  step.name = name;
  step.service = std::move(s);
  return step;
}

Step ChurnGenerator::putSlice(const Cluster& cluster, const std::string& serviceName) {
  // Each pod belongs to one of the two slices of a Service, so no address is listed twice.
  bool first = chance(0.5);
  std::string name = serviceName + (first ? "-a" : "-b");
  std::vector<std::pair<std::string, std::string>> pods;  // address, node
  for (size_t i = 0; i < pools_.localPods.size(); ++i)
    if ((i % 2 == 0) == first) pods.push_back({pools_.localPods[i], "node1"});
  for (size_t i = 0; i < pools_.remotePods.size(); ++i)
    if ((i % 2 == 0) == first) pods.push_back({pools_.remotePods[i], "node2"});

  EndpointSlice slice;
  auto existing = cluster.slices.find(name);
  if (existing != cluster.slices.end()) {
    slice = existing->second;
  } else {
    slice.meta.namespace_ = "default";
    slice.meta.name = name;
    slice.meta.labels["kubernetes.io/service-name"] = serviceName;
    slice.addressType = "IPv4";
  }
  auto randomConditions = [&] {
    controller::EndpointConditions c;
    double roll = std::uniform_real_distribution<>(0, 1)(rng_);
    if (roll < 0.55) c = {true, true, false};
    else if (roll < 0.65) c = {false, false, false};
    else if (roll < 0.82) c = {false, true, true};  // terminating, still serving
    else if (roll < 0.9) c = {false, false, true};
    // else: conditions absent (ready)
    return c;
  };
  double roll = std::uniform_real_distribution<>(0, 1)(rng_);
  if (existing == cluster.slices.end() || roll < 0.15) {  // ports change (or a new slice)
    slice.ports.clear();
    if (chance(0.85)) slice.ports.push_back({std::string("http"), Protocol::TCP, uint16_t(chance(0.7) ? 8080 : 8081)});
    if (chance(0.7)) slice.ports.push_back({std::string("dns"), Protocol::UDP, uint16_t(5353)});
  }
  if (existing == cluster.slices.end() || roll < 0.55) {  // an endpoint appears
    const auto& picked = pick(pods);  // no structured binding: clang 14 cannot capture one
    const auto& address = picked.first;
    const auto& node = picked.second;
    bool present = std::any_of(slice.endpoints.begin(), slice.endpoints.end(),
                               [&](const Endpoint& e) { return e.addresses.front() == address; });
    if (!present) {
      Endpoint e;
      e.addresses = {address};
      e.nodeName = node;
      e.conditions = chance(0.8) ? controller::EndpointConditions{true, true, false} : randomConditions();
      slice.endpoints.push_back(e);
    }
  } else if (roll < 0.8 && !slice.endpoints.empty()) {  // readiness flips, or it terminates
    auto& e = slice.endpoints[std::uniform_int_distribution<size_t>(0, slice.endpoints.size() - 1)(rng_)];
    e.conditions = randomConditions();
  } else if (!slice.endpoints.empty()) {  // an endpoint vanishes
    slice.endpoints.erase(slice.endpoints.begin() +
                          std::uniform_int_distribution<size_t>(0, slice.endpoints.size() - 1)(rng_));
  }
  Step step;
  step.kind = Step::Kind::kPutSlice;
  step.name = name;
  step.slice = std::move(slice);
  return step;
}

}  // namespace bpfproxy::modeltest
