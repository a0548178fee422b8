#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "controller/source/kube_decode.h"
#include "tests/support/require_ok.h"

using namespace bpfproxy::controller;
using web::json::value;

namespace {

value fixture(const std::string& name) {
  std::ifstream stream(std::string(BPFPROXY_SOURCE_DIR) + "/tests/unit/testdata/" + name);
  REQUIRE(stream.good());
  std::stringstream text;
  text << stream.rdbuf();
  return value::parse(text.str());
}

// A minimal valid Service with one field replaced by a JSON snippet.
value serviceWith(const std::string& specJson) {
  return value::parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"foo","namespace":"default"},"spec":)" +
                      specJson + "}");
}

value sliceWith(const std::string& bodyJson) {
  return value::parse(
      R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"foo-1","namespace":"default","labels":{"kubernetes.io/service-name":"foo"}},)" +
      bodyJson + "}");
}

}  // namespace

TEST_CASE("decodeService reads a Service as the API server writes it") {
  auto decoded = decodeService(fixture("apiserver_service.json"));
  REQUIRE_OK(decoded);
  const Service& service = *decoded;
  CHECK(service.meta.namespace_ == "shop");
  CHECK(service.meta.name == "web");
  CHECK(service.meta.uid == "4b0e2a4c-6f1e-4a53-9d1c-2f3b1a0c9e11");
  CHECK(service.meta.resourceVersion == "184467");
  CHECK(service.meta.labels.at("app") == "web");
  CHECK(service.type == "LoadBalancer");
  CHECK(service.clusterIPs == std::vector<std::string>{"10.96.0.10", "fd00:10:96::a"});
  CHECK(service.ipFamilies == std::vector<std::string>{"IPv4", "IPv6"});
  REQUIRE(service.ports.size() == 3);
  CHECK(service.ports[0].name == "http");
  CHECK(service.ports[0].targetPortName == "http-web");
  CHECK(service.ports[0].targetPortNumber == 0);
  CHECK(service.ports[0].nodePort == 30080);
  CHECK(toString(service.ports[1].protocol) == "UDP");
  CHECK(service.ports[1].port == 53);
  CHECK(service.ports[1].targetPortNumber == 5353);
  CHECK(toString(service.ports[2].protocol) == "TCP");
  CHECK(service.ports[2].targetPortNumber == 53);  // absent: = port
  CHECK(service.externalIPs == std::vector<std::string>{"192.0.2.10"});
  CHECK(service.sessionAffinity == "ClientIP");
  CHECK(service.sessionAffinityTimeoutSeconds == 600);
  CHECK(service.externalTrafficPolicy == "Local");
  CHECK(service.internalTrafficPolicy == "Cluster");
  CHECK(service.trafficDistribution == "PreferClose");
  CHECK(service.healthCheckNodePort == 32000);
  CHECK(service.loadBalancerSourceRanges == std::vector<std::string>{"198.51.100.0/24"});
  REQUIRE(service.loadBalancerIngress.size() == 3);
  CHECK(service.loadBalancerIngress[0].ip == "203.0.113.7");
  CHECK(service.loadBalancerIngress[0].ipMode == "VIP");
  CHECK(service.loadBalancerIngress[1].ipMode == "Proxy");
  CHECK(service.loadBalancerIngress[2].hostname == "lb.example.com");
  CHECK(service.loadBalancerIngress[2].ipMode == "VIP");  // absent: VIP
}

TEST_CASE("decodeEndpointSlice reads a slice as the API server writes it") {
  auto decoded = decodeEndpointSlice(fixture("apiserver_endpointslice.json"));
  REQUIRE_OK(decoded);
  const EndpointSlice& slice = *decoded;
  CHECK(slice.serviceName() == "web");
  CHECK(slice.serviceKey() == ServiceKey{"shop", "web"});
  CHECK(slice.addressType == "IPv4");
  CHECK(slice.meta.annotations.at("endpoints.kubernetes.io/last-change-trigger-time") ==
        "2024-05-01T10:00:05Z");
  REQUIRE(slice.endpoints.size() == 3);
  const Endpoint& first = slice.endpoints[0];
  CHECK(first.addresses == std::vector<std::string>{"10.244.1.5"});
  CHECK(first.conditions.ready == true);
  CHECK(first.conditions.terminating == false);
  CHECK(first.nodeName == "node-a");
  CHECK(first.zone == "zone-1");
  CHECK(first.hintsForZones == std::vector<std::string>{"zone-1"});
  CHECK(first.hintsForNodes == std::vector<std::string>{"node-a"});
  CHECK(slice.endpoints[1].conditions.ready == false);
  CHECK(slice.endpoints[1].conditions.serving == true);
  CHECK(slice.endpoints[1].conditions.terminating == true);
  // Conditions absent stay absent: the model applies the API's meaning.
  CHECK_FALSE(slice.endpoints[2].conditions.ready.has_value());
  CHECK_FALSE(slice.endpoints[2].conditions.serving.has_value());
  REQUIRE(slice.ports.size() == 2);
  CHECK(slice.ports[0].name == std::optional<std::string>("http"));
  CHECK(slice.ports[0].port == std::optional<uint16_t>(8080));
  CHECK(toString(slice.ports[1].protocol) == "UDP");
}

TEST_CASE("decodeService applies the API server's defaults") {
  auto decoded = decodeService(serviceWith(R"({"clusterIP":"10.96.0.1","ports":[{"port":443}]})"));
  REQUIRE_OK(decoded);
  const Service& service = *decoded;
  CHECK(service.type == "ClusterIP");
  CHECK(service.clusterIPs == std::vector<std::string>{"10.96.0.1"});  // from clusterIP
  REQUIRE(service.ports.size() == 1);
  CHECK(toString(service.ports[0].protocol) == "TCP");
  CHECK(service.ports[0].targetPortNumber == 443);
  CHECK(service.ports[0].name.empty());
  CHECK(service.sessionAffinity == "None");
  CHECK(service.sessionAffinityTimeoutSeconds == 10800);
  CHECK(service.externalTrafficPolicy == "Cluster");
  CHECK(service.internalTrafficPolicy == "Cluster");
  CHECK_FALSE(service.isHeadless());
}

TEST_CASE("decodeService: headless and ExternalName Services decode") {
  struct Case {
    const char* description;
    const char* spec;
    bool headless;
  };
  const Case cases[] = {
      {"clusterIP None", R"({"clusterIP":"None","ports":[{"port":80}]})", true},
      {"clusterIPs [None]", R"({"clusterIPs":["None"],"clusterIP":"None"})", true},
      {"ExternalName without clusterIP", R"({"type":"ExternalName","externalName":"db.example.com"})",
       true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    auto decoded = decodeService(serviceWith(c.spec));
    REQUIRE_OK(decoded);
    CHECK(decoded->isHeadless() == c.headless);
  }
}

TEST_CASE("decodeService rejects bad objects, naming the field") {
  struct Case {
    const char* description;
    std::string json;
    std::string error;
  };
  auto spec = [](const std::string& body) { return serviceWith(body).serialize(); };
  const Case cases[] = {
      {"port out of range", spec(R"({"ports":[{"port":80},{"port":70000}]})"),
       "spec.ports[1].port: 70000 is not a valid port"},
      {"port zero", spec(R"({"ports":[{"port":0}]})"), "spec.ports[0].port: 0 is not a valid port"},
      {"port missing", spec(R"({"ports":[{"name":"http"}]})"), "spec.ports[0].port: required"},
      {"port as string", spec(R"({"ports":[{"port":"80"}]})"),
       "spec.ports[0].port: expected an integer, got string"},
      {"unknown protocol", spec(R"({"ports":[{"port":80,"protocol":"ICMP"}]})"),
       "spec.ports[0].protocol: \"ICMP\" is not a supported protocol"},
      {"nodePort out of range", spec(R"({"ports":[{"port":80,"nodePort":65536}]})"),
       "spec.ports[0].nodePort: 65536 is not a valid port"},
      {"targetPort out of range", spec(R"({"ports":[{"port":80,"targetPort":99999}]})"),
       "spec.ports[0].targetPort: 99999 is not a valid port"},
      {"bad clusterIPs entry", spec(R"({"clusterIPs":["10.96.0.1","fd00::zz"]})"),
       "spec.clusterIPs[1]: \"fd00::zz\" is not a valid IP address"},
      {"bad clusterIP", spec(R"({"clusterIP":"10.96.0.300"})"),
       "spec.clusterIP: \"10.96.0.300\" is not a valid IP address"},
      {"bad externalIP", spec(R"({"externalIPs":["example.com"]})"),
       "spec.externalIPs[0]: \"example.com\" is not a valid IP address"},
      {"unknown type", spec(R"({"type":"Magic"})"),
       "spec.type: \"Magic\" is not one of ClusterIP, ExternalName, LoadBalancer, NodePort"},
      {"unknown traffic policy", spec(R"({"externalTrafficPolicy":"Nearest"})"),
       "spec.externalTrafficPolicy: \"Nearest\" is not one of Cluster, Local"},
      {"affinity timeout too long",
       spec(R"({"sessionAffinityConfig":{"clientIP":{"timeoutSeconds":90000}}})"),
       "spec.sessionAffinityConfig.clientIP.timeoutSeconds: 90000 is not in 1..86400"},
      {"ports not an array", spec(R"({"ports":{"port":80}})"), "spec.ports: expected an array, got object"},
      {"missing name", R"({"metadata":{"namespace":"default"},"spec":{}})", "metadata.name: required"},
      {"missing metadata", R"({"spec":{}})", "metadata: required"},
      {"label not a string", R"({"metadata":{"name":"foo","labels":{"tier":3}}})",
       "metadata.labels.tier: expected a string, got number"},
      {"not an object", R"(["Service"])", "object: expected an object, got array"},
      {"bad ipMode",
       R"({"metadata":{"name":"foo"},"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.1","ipMode":"Direct"}]}}})",
       "status.loadBalancer.ingress[0].ipMode: \"Direct\" is not one of Proxy, VIP"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    auto decoded = decodeService(value::parse(c.json));
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().message == c.error);
  }
}

TEST_CASE("decodeEndpointSlice rejects bad objects, naming the field") {
  struct Case {
    const char* description;
    std::string body;
    std::string error;
  };
  const Case cases[] = {
      {"missing addressType", R"("endpoints":[])", "addressType: required"},
      {"unknown addressType", R"("addressType":"IPX")",
       "addressType: \"IPX\" is not one of FQDN, IPv4, IPv6"},
      {"bad IPv4 address", R"("addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"]},{"addresses":["10.0.0.999"]}])",
       "endpoints[1].addresses[0]: \"10.0.0.999\" is not a valid IPv4 address"},
      {"IPv6 address in an IPv4 slice", R"("addressType":"IPv4","endpoints":[{"addresses":["fd00::1"]}])",
       "endpoints[0].addresses[0]: \"fd00::1\" is not a valid IPv4 address"},
      {"no addresses", R"("addressType":"IPv4","endpoints":[{"nodeName":"a"}])",
       "endpoints[0].addresses: at least one address required"},
      {"ready not a bool", R"("addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":"yes"}}])",
       "endpoints[0].conditions.ready: expected a boolean, got string"},
      {"port out of range", R"("addressType":"IPv4","ports":[{"name":"http","port":123456}])",
       "ports[0].port: 123456 is not a valid port"},
      {"unknown protocol", R"("addressType":"IPv4","ports":[{"port":80,"protocol":"QUIC"}])",
       "ports[0].protocol: \"QUIC\" is not a supported protocol"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    auto decoded = decodeEndpointSlice(sliceWith(c.body));
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().message == c.error);
  }
}

TEST_CASE("decodeEndpointSlice: FQDN slices, port names and defaults") {
  auto decoded = decodeEndpointSlice(sliceWith(
      R"("addressType":"FQDN","endpoints":[{"addresses":["db.example.com"]}],"ports":[{"port":5432},{"name":"","port":null}])"));
  REQUIRE_OK(decoded);
  CHECK(decoded->addressType == "FQDN");
  REQUIRE(decoded->ports.size() == 2);
  CHECK_FALSE(decoded->ports[0].name.has_value());
  CHECK(toString(decoded->ports[0].protocol) == "TCP");
  CHECK(decoded->ports[1].name == std::optional<std::string>(""));
  CHECK_FALSE(decoded->ports[1].port.has_value());
}

TEST_CASE("decodeNode keeps the zone and internal IPs") {
  auto decoded = decodeNode(value::parse(
      R"({"kind":"Node","metadata":{"name":"node-a","labels":{"topology.kubernetes.io/zone":"zone-1"}},
          "status":{"addresses":[{"type":"InternalIP","address":"192.168.1.10"},{"type":"Hostname","address":"node-a"}]}})"));
  REQUIRE_OK(decoded);
  CHECK(decoded->meta.name == "node-a");
  CHECK(decoded->meta.namespace_.empty());
  CHECK(decoded->zone == "zone-1");
  CHECK(decoded->internalIPs == std::vector<std::string>{"192.168.1.10"});
  CHECK(nodeEligible(*decoded));
}

TEST_CASE("nodeEligible as kube-proxy: not while deleted, nor tainted for deletion by the autoscaler") {
  struct Case {
    const char* description;
    const char* node;
    bool eligible;
  };
  const Case cases[] = {
      {"plain", R"({"metadata":{"name":"n"}})", true},
      {"being deleted", R"({"metadata":{"name":"n","deletionTimestamp":"2026-01-01T00:00:00Z"}})", false},
      {"autoscaler taint",
       R"({"metadata":{"name":"n"},"spec":{"taints":[{"key":"ToBeDeletedByClusterAutoscaler","effect":"NoSchedule"}]}})",
       false},
      {"another taint", R"({"metadata":{"name":"n"},"spec":{"taints":[{"key":"dedicated","effect":"NoSchedule"}]}})",
       true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    auto decoded = decodeNode(value::parse(c.node));
    REQUIRE_OK(decoded);
    CHECK(nodeEligible(*decoded) == c.eligible);
  }
}

TEST_CASE("decodeObjectMeta reads a whole object or its metadata") {
  auto json = fixture("apiserver_endpointslice.json");
  CHECK(decodeObjectMeta(json).name == "web-x7k2p");
  CHECK(decodeObjectMeta(json.at("metadata")).namespace_ == "shop");
  CHECK(decodeObjectMeta(value::string("nonsense")).name.empty());
  CHECK(toString(Protocol::SCTP) == "SCTP");
}
