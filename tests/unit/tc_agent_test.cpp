// The per-packet datapath's pure parts: source ranges in the model, port ranges and
// ip_local_reserved_ports merging, the health-check answer, and which Pods bypass the
// socket hooks.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "controller/source/bypass_pods.h"
#include "controller/node/health_check_servers.h"
#include "controller/model/model.h"
#include "controller/sync/reconciler.h"
#include "controller/node/host_network.h"
#include "controller/node/tc_agent.h"
#include "tests/support/require_ok.h"

using namespace bpfproxy;
using namespace bpfproxy::controller;

TEST_CASE("model: loadBalancerSourceRanges guard the load-balancer frontends only") {
  Service service;
  service.meta = {"default", "lb"};
  service.type = "LoadBalancer";
  service.clusterIPs = {"10.32.0.50"};
  ServicePort port;
  port.port = 80;
  port.nodePort = 30050;
  service.ports = {port};
  service.loadBalancerSourceRanges = {"192.168.0.0/16", "fd00::/8", "nonsense"};
  service.loadBalancerIngress = {{"203.0.113.9", "", ""}};
  auto result = buildServiceFrontends(service, {}, ModelConfig{});
  CHECK(result.warnings.size() == 1);
  int checked = 0;
  for (const auto& frontend : result.frontends) {
    CAPTURE(describe(frontend.key));
    bool lb = frontend.flags & BPX_SVC_F_LOADBALANCER;
    CHECK(static_cast<bool>(frontend.flags & BPX_SVC_F_SOURCE_RANGES) == lb);
    if (!lb) {
      CHECK(frontend.sourceRanges.empty());
      continue;
    }
    REQUIRE(frontend.sourceRanges.size() == 1);  // only the IPv4 range applies to an IPv4 address
    CHECK(frontend.sourceRanges[0].toString() == "192.168.0.0/16");
    checked++;
  }
  CHECK(checked == 1);
}

TEST_CASE("port ranges and ip_local_reserved_ports") {
  CHECK(parsePortRange("30000-32767") == std::make_pair<uint16_t, uint16_t>(30000, 32767));
  CHECK_FALSE(parsePortRange("32767-30000"));
  CHECK_FALSE(parsePortRange("30000"));
  CHECK_FALSE(parsePortRange("0-10"));
  CHECK(mergeReservedPorts("", {{30000, 32767}}) == "30000-32767");
  CHECK(mergeReservedPorts("22,8080-8090\n", {{30000, 32767}, {61000, 65535}}) ==
        "22,8080-8090,30000-32767,61000-65535");
  CHECK(mergeReservedPorts("30000-32767", {{30000, 32767}}) == "30000-32767");
}

TEST_CASE("health-check node port answers like kube-proxy's") {
  auto [ok, body] = HealthCheckServers::response("default", "web", 2, true);
  CHECK(ok == 200);
  auto json = web::json::value::parse(body);
  CHECK(json.at("service").at("namespace").as_string() == "default");
  CHECK(json.at("service").at("name").as_string() == "web");
  CHECK(json.at("localEndpoints").as_integer() == 2);
  CHECK(json.at("serviceProxyHealthy").as_bool());
  CHECK(HealthCheckServers::response("default", "web", 0, true).first == 503);
  // An unhealthy proxier fails the check even with local endpoints, and says so.
  auto [unhealthy, unhealthyBody] = HealthCheckServers::response("default", "web", 2, false);
  CHECK(unhealthy == 503);
  CHECK_FALSE(web::json::value::parse(unhealthyBody).at("serviceProxyHealthy").as_bool());
}

TEST_CASE("health-check node port: a served answer asks the proxier's health on each request") {
  // A free port on loopback, then served on every address by the servers.
  int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(probe, reinterpret_cast<sockaddr*>(&any), sizeof(any)) == 0);
  socklen_t length = sizeof(any);
  getsockname(probe, reinterpret_cast<sockaddr*>(&any), &length);
  uint16_t port = ntohs(any.sin_port);
  close(probe);

  std::atomic<bool> healthy{true};
  HealthCheckServers servers(HttpLimits{}, [&] { return healthy.load(); });
  REQUIRE_OK(servers.update("default", "web", port, 1));
  auto ask = [&] {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0);
    std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
    std::string reply;
    char buffer[1024];
    for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) reply.append(buffer, static_cast<size_t>(n));
    close(fd);
    return reply;
  };
  auto reply = ask();
  CHECK(reply.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(reply.find("\"serviceProxyHealthy\": true") != std::string::npos);
  healthy = false;
  reply = ask();
  CHECK(reply.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(reply.find("\"serviceProxyHealthy\": false") != std::string::npos);
}

TEST_CASE("pods bypassing the socket hooks: label or annotation") {
  auto pod = [](const char* metadata) {
    return web::json::value::parse(std::string(R"({"apiVersion":"v1","kind":"Pod","metadata":)") +
                                   metadata +
                                   R"(,"spec":{"nodeName":"node1"},"status":{"podIPs":[{"ip":"10.200.0.2"},{"ip":"fd00::2"}]}})");
  };
  auto labelled = decodeBypassPod(pod(R"({"name":"a","labels":{"bpfproxy.io/socket-lb":"bypass"}})"));
  REQUIRE(labelled);
  CHECK(labelled->key == "default/a");
  CHECK(labelled->nodeName == "node1");
  CHECK(labelled->addresses.size() == 2);
  auto annotated = decodeBypassPod(
      pod(R"({"name":"b","namespace":"mesh","annotations":{"bpfproxy.io/socket-lb":"bypass","bpfproxy.io/cgroup":"pod-b"}})"));
  REQUIRE(annotated);
  CHECK(annotated->cgroup == "pod-b");
  CHECK_FALSE(decodeBypassPod(pod(R"({"name":"c","labels":{"app":"web"}})")));
  CHECK_FALSE(decodeBypassPod(pod(R"({"name":"d","labels":{"bpfproxy.io/socket-lb":"socket"}})")));
}
