#include <doctest/doctest.h>

#include <algorithm>

#include "controller/model/model.h"

using namespace bpfproxy;
using namespace bpfproxy::controller;

namespace {

ServicePort servicePort(std::string name, uint16_t port, Protocol protocol = Protocol::TCP,
                        uint16_t nodePort = 0) {
  ServicePort result;
  result.name = std::move(name);
  result.port = port;
  result.protocol = protocol;
  result.nodePort = nodePort;
  return result;
}

Service makeService(std::vector<std::string> clusterIPs, std::vector<ServicePort> ports) {
  Service service;
  service.meta.namespace_ = "default";
  service.meta.name = "web";
  service.clusterIPs = std::move(clusterIPs);
  service.ports = std::move(ports);
  return service;
}

struct EndpointBuilder {
  Endpoint endpoint;
  explicit EndpointBuilder(std::string address, std::string node = "") {
    endpoint.addresses = {std::move(address)};
    endpoint.nodeName = std::move(node);
  }
  EndpointBuilder& ready(bool value) { endpoint.conditions.ready = value; return *this; }
  EndpointBuilder& terminating(bool serving) {
    endpoint.conditions.ready = false;
    endpoint.conditions.serving = serving;
    endpoint.conditions.terminating = true;
    return *this;
  }
  EndpointBuilder& zone(std::string value) { endpoint.zone = std::move(value); return *this; }
  EndpointBuilder& forZones(std::vector<std::string> zones) {
    endpoint.hintsForZones = std::move(zones);
    return *this;
  }
  EndpointBuilder& forNodes(std::vector<std::string> nodes) {
    endpoint.hintsForNodes = std::move(nodes);
    return *this;
  }
  operator Endpoint() const { return endpoint; }
};

EndpointPort slicePort(std::optional<std::string> name, uint16_t port,
                       Protocol protocol = Protocol::TCP) {
  EndpointPort result;
  result.name = std::move(name);
  result.port = port;
  result.protocol = protocol;
  return result;
}

EndpointSlice makeSlice(std::string name, std::string addressType, std::vector<EndpointPort> ports,
                        std::vector<Endpoint> endpoints) {
  EndpointSlice slice;
  slice.meta.namespace_ = "default";
  slice.meta.name = std::move(name);
  slice.meta.labels["kubernetes.io/service-name"] = "web";
  slice.addressType = std::move(addressType);
  slice.ports = std::move(ports);
  slice.endpoints = std::move(endpoints);
  return slice;
}

ModelConfig config() {
  ModelConfig result;
  result.serviceCidrs = {*Cidr::parse("10.96.0.0/16"), *Cidr::parse("fd00:10:96::/112")};
  result.nodeName = "node-a";
  result.nodeZone = "zone-1";
  return result;
}

ModelResult build(const Service& service, const std::vector<EndpointSlice>& slices,
                  const ModelConfig& modelConfig = config()) {
  std::vector<const EndpointSlice*> pointers;
  for (const auto& slice : slices) pointers.push_back(&slice);
  return buildServiceFrontends(service, pointers, modelConfig);
}

std::string protoName(uint8_t proto) {
  switch (proto) {
    case BPX_PROTO_TCP: return "tcp";
    case BPX_PROTO_UDP: return "udp";
    case BPX_PROTO_SCTP: return "sctp";
    default: return "any";
  }
}

// "10.96.0.10:80/tcp -> 10.244.1.5:8080 10.244.2.5:8080~": one line per frontend,
// "~" marking a terminating backend. Tables compare these.
std::vector<std::string> summary(const ModelResult& result) {
  std::vector<std::string> lines;
  for (const auto& frontend : result.frontends) {
    std::string line = formatEndpoint(frontend.key.address, frontend.key.port) + "/" +
                       protoName(frontend.key.proto) +
                       (frontend.key.scope == BPX_SVC_SCOPE_INTERNAL ? " (in-cluster)" : "") + " ->";
    for (const auto& backend : frontend.backends)
      line += " " + formatEndpoint(backend.address, backend.port) +
              (backend.state == BPX_BACKEND_TERMINATING ? "~" : "");
    lines.push_back(line);
  }
  return lines;
}

const FrontendSpec* find(const ModelResult& result, const std::string& address, uint16_t port,
                         uint8_t proto = BPX_PROTO_TCP) {
  for (const auto& frontend : result.frontends)
    if (frontend.key.address == *IpAddress::parse(address) && frontend.key.port == port &&
        frontend.key.proto == proto)
      return &frontend;
  return nullptr;
}

// One row of an endpoint-selection table: a slice of these endpoints (port http -> 8080)
// gives frontend line `line` of summary().
struct EndpointsCase {
  const char* description;
  std::vector<Endpoint> endpoints;
  std::string expected;
};

void checkEndpointsCases(const Service& service, const std::vector<EndpointsCase>& cases,
                         size_t line) {
  for (const auto& c : cases) {
    CAPTURE(c.description);
    auto result = build(service, {makeSlice("web-1", "IPv4", {slicePort("http", 8080)}, c.endpoints)});
    CHECK(summary(result).at(line) == c.expected);
  }
}

}  // namespace

TEST_CASE("model: ports, slices and families") {
  struct Case {
    const char* description;
    Service service;
    std::vector<EndpointSlice> slices;
    std::vector<std::string> expected;
  };
  const Case cases[] = {
      {"named targetPort resolved through the slice's port",
       makeService({"10.96.0.10"}, {servicePort("http", 80)}),
       {makeSlice("web-1", "IPv4", {slicePort("http", 8080), slicePort("metrics", 9090)},
                  {EndpointBuilder("10.244.1.5")})},
       {"10.96.0.10:0/any ->", "10.96.0.10:80/tcp -> 10.244.1.5:8080"}},
      {"unnamed port matches an unnamed (absent) slice port",
       makeService({"10.96.0.10"}, {servicePort("", 443)}),
       {makeSlice("web-1", "IPv4", {slicePort(std::nullopt, 8443)}, {EndpointBuilder("10.244.1.5")})},
       {"10.96.0.10:0/any ->", "10.96.0.10:443/tcp -> 10.244.1.5:8443"}},
      {"a Service split over slices is merged, duplicates once, first slice by name wins",
       makeService({"10.96.0.10"}, {servicePort("http", 80)}),
       {makeSlice("web-b", "IPv4", {slicePort("http", 8080)},
                  {EndpointBuilder("10.244.2.5"), EndpointBuilder("10.244.1.6")}),
        makeSlice("web-a", "IPv4", {slicePort("http", 8080)},
                  {EndpointBuilder("10.244.1.5"), EndpointBuilder("10.244.1.6").ready(false)})},
       {"10.96.0.10:0/any ->", "10.96.0.10:80/tcp -> 10.244.1.5:8080 10.244.2.5:8080"}},
      {"several ports each get their own backends port",
       makeService({"10.96.0.10"}, {servicePort("http", 80), servicePort("https", 443)}),
       {makeSlice("web-1", "IPv4", {slicePort("https", 8443), slicePort("http", 8080)},
                  {EndpointBuilder("10.244.1.5"), EndpointBuilder("10.244.1.6")})},
       {"10.96.0.10:0/any ->", "10.96.0.10:80/tcp -> 10.244.1.5:8080 10.244.1.6:8080",
        "10.96.0.10:443/tcp -> 10.244.1.5:8443 10.244.1.6:8443"}},
      {"UDP and TCP on one port number are matched by protocol",
       makeService({"10.96.0.10"}, {servicePort("dns", 53, Protocol::UDP),
                                    servicePort("dns-tcp", 53, Protocol::TCP)}),
       {makeSlice("web-1", "IPv4",
                  {slicePort("dns", 5353, Protocol::UDP), slicePort("dns-tcp", 5354, Protocol::TCP),
                   slicePort("dns", 9999, Protocol::TCP)},
                  {EndpointBuilder("10.244.1.5")})},
       {"10.96.0.10:0/any ->", "10.96.0.10:53/tcp -> 10.244.1.5:5354",
        "10.96.0.10:53/udp -> 10.244.1.5:5353"}},
      {"dual-stack: each family gets the slices of its own family, FQDN ignored",
       makeService({"10.96.0.10", "fd00:10:96::a"}, {servicePort("http", 80)}),
       {makeSlice("web-v4", "IPv4", {slicePort("http", 8080)}, {EndpointBuilder("10.244.1.5")}),
        makeSlice("web-v6", "IPv6", {slicePort("http", 8080)}, {EndpointBuilder("fd00:244::5")}),
        makeSlice("web-fqdn", "FQDN", {slicePort("http", 8080)}, {EndpointBuilder("db.example.com")})},
       {"10.96.0.10:0/any ->", "10.96.0.10:80/tcp -> 10.244.1.5:8080", "[fd00:10:96::a]:0/any ->",
        "[fd00:10:96::a]:80/tcp -> [fd00:244::5]:8080"}},
      {"wildcard only for clusterIPs inside the service CIDR",
       makeService({"10.97.0.10"}, {servicePort("http", 80)}),
       {makeSlice("web-1", "IPv4", {slicePort("http", 8080)}, {EndpointBuilder("10.244.1.5")})},
       {"10.97.0.10:80/tcp -> 10.244.1.5:8080"}},
      {"no slices: frontends without backends",
       makeService({"10.96.0.10"}, {servicePort("http", 80)}), {},
       {"10.96.0.10:0/any ->", "10.96.0.10:80/tcp ->"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    ModelResult result = build(c.service, c.slices);
    CHECK(summary(result) == c.expected);
    CHECK(result.warnings.empty());
  }
}

TEST_CASE("model: headless and ExternalName Services have no frontends") {
  auto slices = std::vector<EndpointSlice>{
      makeSlice("web-1", "IPv4", {slicePort("http", 8080)}, {EndpointBuilder("10.244.1.5")})};
  Service headless = makeService({"None"}, {servicePort("http", 80)});
  Service unallocated = makeService({}, {servicePort("http", 80)});
  Service external = makeService({}, {servicePort("http", 80)});
  external.type = "ExternalName";
  external.externalName = "db.example.com";
  for (const auto* service : {&headless, &unallocated, &external}) {
    CAPTURE(service->type);
    CHECK(build(*service, slices).frontends.empty());
  }
}

TEST_CASE("model: frontend kinds, flags and keys") {
  Service service = makeService({"10.96.0.10", "fd00:10:96::a"},
                                {servicePort("http", 80, Protocol::TCP, 30080)});
  service.type = "LoadBalancer";
  service.externalIPs = {"192.0.2.10"};
  service.loadBalancerIngress = {{"203.0.113.7", "", "VIP"}, {"203.0.113.8", "", "Proxy"},
                                 {"", "lb.example.com", "VIP"}};
  service.sessionAffinity = "ClientIP";
  service.sessionAffinityTimeoutSeconds = 600;
  auto slices = std::vector<EndpointSlice>{
      makeSlice("web-1", "IPv4", {slicePort("http", 8080)}, {EndpointBuilder("10.244.1.5", "node-b")})};
  ModelResult result = build(service, slices);
  CHECK(result.warnings.empty());

  struct Expected {
    const char* description;
    IpAddress address;
    uint16_t port;
    uint8_t proto;
    uint8_t type;
    uint16_t flags;
    size_t backends;
  };
  const uint16_t affinity = BPX_SVC_F_AFFINITY;
  const Expected expected[] = {
      {"v4 NodePort on the v4-mapped zero address", IpAddress::fromV4(0), 30080, BPX_PROTO_TCP,
       BPX_SVC_TYPE_NODE_PORT, BPX_SVC_F_NODEPORT | affinity, 1},
      {"v6 NodePort on ::", IpAddress(), 30080, BPX_PROTO_TCP, BPX_SVC_TYPE_NODE_PORT,
       BPX_SVC_F_NODEPORT | affinity, 0},
      {"v4 ClusterIP", *IpAddress::parse("10.96.0.10"), 80, BPX_PROTO_TCP, BPX_SVC_TYPE_CLUSTER_IP,
       BPX_SVC_F_CLUSTER_IP | affinity, 1},
      {"v4 wildcard", *IpAddress::parse("10.96.0.10"), 0, BPX_PROTO_ANY, BPX_SVC_TYPE_CLUSTER_IP,
       BPX_SVC_F_WILDCARD, 0},
      {"v6 ClusterIP", *IpAddress::parse("fd00:10:96::a"), 80, BPX_PROTO_TCP,
       BPX_SVC_TYPE_CLUSTER_IP, BPX_SVC_F_CLUSTER_IP | affinity, 0},
      {"v6 wildcard", *IpAddress::parse("fd00:10:96::a"), 0, BPX_PROTO_ANY, BPX_SVC_TYPE_CLUSTER_IP,
       BPX_SVC_F_WILDCARD, 0},
      {"externalIP", *IpAddress::parse("192.0.2.10"), 80, BPX_PROTO_TCP, BPX_SVC_TYPE_EXTERNAL_IP,
       BPX_SVC_F_EXTERNAL_IP | affinity, 1},
      {"load balancer VIP", *IpAddress::parse("203.0.113.7"), 80, BPX_PROTO_TCP,
       BPX_SVC_TYPE_LOAD_BALANCER, BPX_SVC_F_LOADBALANCER | affinity, 1},
      {"load balancer in Proxy mode", *IpAddress::parse("203.0.113.8"), 80, BPX_PROTO_TCP,
       BPX_SVC_TYPE_LOAD_BALANCER, BPX_SVC_F_LOADBALANCER | BPX_SVC_F_LB_PROXY | affinity, 1},
  };
  CHECK(result.frontends.size() == std::size(expected));  // hostname-only ingress: none
  for (const auto& e : expected) {
    CAPTURE(e.description);
    auto it = std::find_if(result.frontends.begin(), result.frontends.end(), [&](const auto& f) {
      return f.key == FrontendKey{e.address, e.port, e.proto};
    });
    REQUIRE(it != result.frontends.end());
    CHECK(it->type == e.type);
    CHECK(it->flags == e.flags);
    CHECK(it->backends.size() == e.backends);
    CHECK(it->namespace_ == "default");
    CHECK(it->name == "web");
    if (e.flags & BPX_SVC_F_AFFINITY) CHECK(it->affinityTimeoutSeconds == 600);
    if (!(e.flags & BPX_SVC_F_WILDCARD)) CHECK(it->portName == "http");
  }
  CHECK(std::is_sorted(result.frontends.begin(), result.frontends.end(),
                       [](const auto& a, const auto& b) { return a.key < b.key; }));
  const auto& backend = find(result, "10.96.0.10", 80)->backends.at(0);
  CHECK(backend.nodeName == "node-b");
  CHECK_FALSE(backend.local);
  CHECK(backend.proto == BPX_PROTO_TCP);
  CHECK(backend.state == BPX_BACKEND_ACTIVE);
}

TEST_CASE("model: readiness and the serving-terminating fallback") {
  const std::vector<EndpointsCase> cases = {
      {"ready absent means ready", {EndpointBuilder("10.244.1.5")},
       "10.96.0.10:80/tcp -> 10.244.1.5:8080"},
      {"not ready endpoints are left out",
       {EndpointBuilder("10.244.1.5"), EndpointBuilder("10.244.1.6").ready(false)},
       "10.96.0.10:80/tcp -> 10.244.1.5:8080"},
      {"terminating ones ignored while any endpoint is ready",
       {EndpointBuilder("10.244.1.5"), EndpointBuilder("10.244.1.6").terminating(true)},
       "10.96.0.10:80/tcp -> 10.244.1.5:8080"},
      {"no ready endpoint: serving terminating ones, marked terminating",
       {EndpointBuilder("10.244.1.5").ready(false), EndpointBuilder("10.244.1.6").terminating(true),
        EndpointBuilder("10.244.1.7").terminating(false)},
       "10.96.0.10:80/tcp -> 10.244.1.6:8080~"},
      {"nothing usable: no backends",
       {EndpointBuilder("10.244.1.5").ready(false), EndpointBuilder("10.244.1.7").terminating(false)},
       "10.96.0.10:80/tcp ->"},
  };
  Service service = makeService({"10.96.0.10"}, {servicePort("http", 80)});
  checkEndpointsCases(service, cases, 1);
}

TEST_CASE("model: internalTrafficPolicy Local") {
  const std::vector<EndpointsCase> cases = {
      {"only this node's endpoints",
       {EndpointBuilder("10.244.1.5", "node-a"), EndpointBuilder("10.244.2.5", "node-b"),
        EndpointBuilder("10.244.3.5")},
       "10.96.0.10:80/tcp -> 10.244.1.5:8080"},
      {"no local endpoint: no backends, even with remote ones",
       {EndpointBuilder("10.244.2.5", "node-b")}, "10.96.0.10:80/tcp ->"},
      {"local serving terminating used when no local one is ready, though remote ones are",
       {EndpointBuilder("10.244.1.5", "node-a").terminating(true),
        EndpointBuilder("10.244.2.5", "node-b")},
       "10.96.0.10:80/tcp -> 10.244.1.5:8080~"},
      {"hints are not applied to Local",
       {EndpointBuilder("10.244.1.5", "node-a").forZones({"zone-2"}),
        EndpointBuilder("10.244.2.5", "node-b").forZones({"zone-1"})},
       "10.96.0.10:80/tcp -> 10.244.1.5:8080"},
  };
  Service service = makeService({"10.96.0.10"}, {servicePort("http", 80, Protocol::TCP, 30080)});
  service.internalTrafficPolicy = "Local";
  checkEndpointsCases(service, cases, 2);
  auto result = build(service, {makeSlice("web-1", "IPv4", {slicePort("http", 8080)},
                                          {EndpointBuilder("10.244.1.5", "node-a"),
                                           EndpointBuilder("10.244.2.5", "node-b")})});
  CHECK(find(result, "10.96.0.10", 80)->backends.at(0).local);
  // The NodePort follows externalTrafficPolicy (Cluster): every usable endpoint.
  CHECK(find(result, "0.0.0.0", 30080)->flags == BPX_SVC_F_NODEPORT);
  CHECK(find(result, "0.0.0.0", 30080)->backends.size() == 2);
}

TEST_CASE("model: topology hints") {
  const std::vector<EndpointsCase> cases = {
      {"zone hints, all present, one for this zone: only those",
       {EndpointBuilder("10.244.1.5", "node-a").forZones({"zone-1"}),
        EndpointBuilder("10.244.2.5", "node-b").forZones({"zone-2"}),
        EndpointBuilder("10.244.3.5", "node-c").forZones({"zone-1", "zone-3"})},
       "10.96.0.10:80/tcp -> 10.244.1.5:8080 10.244.3.5:8080"},
      {"one ready endpoint without a hint: all",
       {EndpointBuilder("10.244.1.5").forZones({"zone-1"}), EndpointBuilder("10.244.2.5")},
       "10.96.0.10:80/tcp -> 10.244.1.5:8080 10.244.2.5:8080"},
      {"a not-ready endpoint without a hint does not matter",
       {EndpointBuilder("10.244.1.5").forZones({"zone-1"}),
        EndpointBuilder("10.244.2.5").forZones({"zone-2"}), EndpointBuilder("10.244.3.5").ready(false)},
       "10.96.0.10:80/tcp -> 10.244.1.5:8080"},
      {"no hint for this zone: all",
       {EndpointBuilder("10.244.1.5").forZones({"zone-2"}),
        EndpointBuilder("10.244.2.5").forZones({"zone-3"})},
       "10.96.0.10:80/tcp -> 10.244.1.5:8080 10.244.2.5:8080"},
      {"node hints for this node win (PreferSameNode)",
       {EndpointBuilder("10.244.1.5", "node-a").forNodes({"node-a"}).forZones({"zone-1"}),
        EndpointBuilder("10.244.1.6", "node-x").forNodes({"node-x"}).forZones({"zone-1"}),
        EndpointBuilder("10.244.2.5", "node-b").forNodes({"node-b"}).forZones({"zone-2"})},
       "10.96.0.10:80/tcp -> 10.244.1.5:8080"},
      {"no node hint for this node: falls back to zone hints",
       {EndpointBuilder("10.244.1.6", "node-x").forNodes({"node-x"}).forZones({"zone-1"}),
        EndpointBuilder("10.244.2.5", "node-b").forNodes({"node-b"}).forZones({"zone-2"})},
       "10.96.0.10:80/tcp -> 10.244.1.6:8080"},
      {"node hints incomplete, zone hints complete: zone",
       {EndpointBuilder("10.244.1.5", "node-a").forNodes({"node-a"}).forZones({"zone-1"}),
        EndpointBuilder("10.244.1.6", "node-x").forZones({"zone-1"}),
        EndpointBuilder("10.244.2.5", "node-b").forZones({"zone-2"})},
       "10.96.0.10:80/tcp -> 10.244.1.5:8080 10.244.1.6:8080"},
  };
  Service service = makeService({"10.96.0.10"}, {servicePort("http", 80)});
  service.trafficDistribution = "PreferClose";
  checkEndpointsCases(service, cases, 1);

  SUBCASE("this node's zone unknown: all") {
    ModelConfig noZone = config();
    noZone.nodeZone = "";
    auto result = build(service, {makeSlice("web-1", "IPv4", {slicePort("http", 8080)},
                                            {EndpointBuilder("10.244.1.5").forZones({"zone-1"}),
                                             EndpointBuilder("10.244.2.5").forZones({"zone-2"})})},
                        noZone);
    CHECK(summary(result).at(1) == "10.96.0.10:80/tcp -> 10.244.1.5:8080 10.244.2.5:8080");
  }
}

TEST_CASE("model: externalTrafficPolicy Local") {
  Service service = makeService({"10.96.0.10"}, {servicePort("http", 80, Protocol::TCP, 30080)});
  service.type = "LoadBalancer";
  service.externalTrafficPolicy = "Local";
  service.externalIPs = {"192.0.2.10"};
  service.loadBalancerIngress = {{"203.0.113.7", "", "VIP"}};
  auto slices = std::vector<EndpointSlice>{makeSlice(
      "web-1", "IPv4", {slicePort("http", 8080)},
      {EndpointBuilder("10.244.1.5", "node-a").zone("zone-1"), EndpointBuilder("10.244.2.5", "node-b")})};
  ModelResult result = build(service, slices);
  // Each external frontend has an in-cluster twin with every endpoint: Local restricts
  // only clients from outside the cluster.
  CHECK(summary(result) == std::vector<std::string>{
                               "0.0.0.0:30080/tcp -> 10.244.1.5:8080",
                               "0.0.0.0:30080/tcp (in-cluster) -> 10.244.1.5:8080 10.244.2.5:8080",
                               "10.96.0.10:0/any ->",
                               "10.96.0.10:80/tcp -> 10.244.1.5:8080 10.244.2.5:8080",
                               "192.0.2.10:80/tcp -> 10.244.1.5:8080",
                               "192.0.2.10:80/tcp (in-cluster) -> 10.244.1.5:8080 10.244.2.5:8080",
                               "203.0.113.7:80/tcp -> 10.244.1.5:8080",
                               "203.0.113.7:80/tcp (in-cluster) -> 10.244.1.5:8080 10.244.2.5:8080",
                           });
  struct Case {
    const char* description;
    const char* address;
    uint16_t port;
    uint16_t flags;
  };
  const Case cases[] = {
      {"NodePort", "0.0.0.0", 30080, BPX_SVC_F_NODEPORT | BPX_SVC_F_LOCAL},
      {"externalIP", "192.0.2.10", 80, BPX_SVC_F_EXTERNAL_IP | BPX_SVC_F_LOCAL},
      {"load balancer", "203.0.113.7", 80, BPX_SVC_F_LOADBALANCER | BPX_SVC_F_LOCAL},
      {"ClusterIP is not external", "10.96.0.10", 80, BPX_SVC_F_CLUSTER_IP},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    REQUIRE(find(result, c.address, c.port) != nullptr);
    CHECK(find(result, c.address, c.port)->flags == c.flags);
  }
  for (const auto& frontend : result.frontends)
    if (frontend.key.scope == BPX_SVC_SCOPE_INTERNAL) CHECK((frontend.flags & BPX_SVC_F_LOCAL) == 0);
  const auto& local = find(result, "192.0.2.10", 80)->backends.at(0);
  CHECK(local.local);
  CHECK(local.nodeName == "node-a");
  CHECK(local.zone == "zone-1");
}

TEST_CASE("model: bad input is skipped with a warning") {
  struct Case {
    const char* description;
    Service service;
    std::vector<std::string> expected;
    std::string warning;
  };
  Service badClusterIp = makeService({"10.96.0.300", "fd00:10:96::a"}, {servicePort("http", 80)});
  Service wrongFamilyExternal = makeService({"10.96.0.10"}, {servicePort("http", 80)});
  wrongFamilyExternal.externalIPs = {"2001:db8::1"};
  const Case cases[] = {
      {"bad clusterIP skipped, the other kept", badClusterIp,
       {"[fd00:10:96::a]:0/any ->", "[fd00:10:96::a]:80/tcp ->"},
       "Service default/web: clusterIP \"10.96.0.300\" is not a valid IP address; skipped"},
      {"externalIP of a family the Service lacks", wrongFamilyExternal,
       {"10.96.0.10:0/any ->", "10.96.0.10:80/tcp ->"},
       "Service default/web: externalIP 2001:db8::1 is of a family the Service has no clusterIP in; "
       "skipped"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    auto result = build(c.service, {});
    CHECK(summary(result) == c.expected);
    CHECK(result.warnings == std::vector<std::string>{c.warning});
  }
}

TEST_CASE("model: output does not depend on slice order") {
  Service service = makeService({"10.96.0.10"}, {servicePort("http", 80)});
  auto a = makeSlice("web-a", "IPv4", {slicePort("http", 8080)},
                     {EndpointBuilder("10.244.1.9"), EndpointBuilder("10.244.1.5").ready(false)});
  auto b = makeSlice("web-b", "IPv4", {slicePort("http", 8080)},
                     {EndpointBuilder("10.244.1.5"), EndpointBuilder("10.244.1.1")});
  auto forward = build(service, {a, b});
  auto backward = build(service, {b, a});
  CHECK(forward.frontends == backward.frontends);
  CHECK(summary(forward).at(1) == "10.96.0.10:80/tcp -> 10.244.1.1:8080 10.244.1.9:8080");
}

// Addresses and ports from the API or a file that would reach the node itself, every address,
// or ports the cluster never hands out: each is refused, named in a warning, the rest kept.
TEST_CASE("model: security checks before anything reaches a map") {
  struct Case {
    const char* description;
    Service service;
    std::vector<EndpointSlice> slices;
    std::vector<std::string> expected;
    std::string warning;
  };
  auto withExternal = [](std::string address) {
    Service service = makeService({"10.96.0.10"}, {servicePort("http", 80)});
    service.externalIPs = {std::move(address)};
    return service;
  };
  auto withIngress = [](std::string address) {
    Service service = makeService({"10.96.0.10"}, {servicePort("http", 80)});
    service.loadBalancerIngress.push_back({});
    service.loadBalancerIngress.back().ip = std::move(address);
    return service;
  };
  auto withEndpoint = [](std::string address) {
    return std::vector<EndpointSlice>{
        makeSlice("web-a", address.find(':') == std::string::npos ? "IPv4" : "IPv6", {slicePort("http", 8080)},
                  {EndpointBuilder("10.244.1.5"), EndpointBuilder(address)})};
  };
  const std::vector<std::string> clusterIpOnly{"10.96.0.10:0/any ->", "10.96.0.10:80/tcp ->"};
  const std::vector<std::string> oneBackend{"10.96.0.10:0/any ->", "10.96.0.10:80/tcp -> 10.244.1.5:8080"};
  const Case cases[] = {
      {"loopback clusterIP", makeService({"127.0.0.1"}, {servicePort("http", 80)}), {}, {},
       "Service default/web: clusterIP 127.0.0.1 is a loopback address; skipped"},
      {"unspecified IPv6 clusterIP", makeService({"::"}, {servicePort("http", 80)}), {}, {},
       "Service default/web: clusterIP :: is the unspecified address; skipped"},
      {"externalIP 0.0.0.0 (every address)", withExternal("0.0.0.0"), {}, clusterIpOnly,
       "Service default/web: externalIP 0.0.0.0 is the unspecified address; skipped"},
      {"externalIP on loopback", withExternal("127.0.0.53"), {}, clusterIpOnly,
       "Service default/web: externalIP 127.0.0.53 is a loopback address; skipped"},
      {"externalIP multicast", withExternal("224.0.0.251"), {}, clusterIpOnly,
       "Service default/web: externalIP 224.0.0.251 is a multicast address; skipped"},
      {"load-balancer IP on the metadata service", withIngress("169.254.169.254"), {}, clusterIpOnly,
       "Service default/web: loadBalancer ingress 169.254.169.254 is a link-local address; skipped"},
      {"load-balancer IP broadcast", withIngress("255.255.255.255"), {}, clusterIpOnly,
       "Service default/web: loadBalancer ingress 255.255.255.255 is the broadcast address; skipped"},
      {"endpoint on the node's loopback", makeService({"10.96.0.10"}, {servicePort("http", 80)}),
       withEndpoint("127.0.0.1"), oneBackend,
       "Service default/web: EndpointSlice web-a: endpoint 127.0.0.1 is a loopback address; skipped"},
      {"endpoint on the metadata service", makeService({"10.96.0.10"}, {servicePort("http", 80)}),
       withEndpoint("169.254.169.254"), oneBackend,
       "Service default/web: EndpointSlice web-a: endpoint 169.254.169.254 is a link-local address; skipped"},
      {"endpoint that is a Service address", makeService({"10.96.0.10"}, {servicePort("http", 80)}),
       withEndpoint("10.96.0.20"), oneBackend,
       "Service default/web: EndpointSlice web-a: endpoint 10.96.0.20 is inside the service CIDR "
       "10.96.0.0/16; skipped"},
      {"nodePort outside the NodePort range", makeService({"10.96.0.10"}, {servicePort("ssh", 80, Protocol::TCP, 22)}),
       {}, clusterIpOnly, "Service default/web: nodePort 22 is outside the NodePort range 30000-32767; skipped"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    std::vector<const EndpointSlice*> slices;
    for (const auto& slice : c.slices) slices.push_back(&slice);
    auto result = buildServiceFrontends(c.service, slices, config());
    CHECK(summary(result) == c.expected);
    CHECK(result.warnings == std::vector<std::string>{c.warning});
  }
}
