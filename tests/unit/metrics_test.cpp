// The metrics exposition: kube-proxy's names and buckets, and promtool's lint on it.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "cli/logging.h"
#include "controller/serve/metrics.h"
#include "tests/support/skip.h"

using namespace bpfproxy::controller;

namespace {

Service localService(const std::string& name, bool optIn) {
  Service service;
  service.meta.namespace_ = "default";
  service.meta.name = name;
  service.type = "NodePort";
  service.internalTrafficPolicy = "Local";
  service.externalTrafficPolicy = "Local";
  if (optIn) service.meta.annotations[kMetricsAnnotation] = "true";
  return service;
}

EndpointSlice remoteSlice() {
  EndpointSlice slice;
  Endpoint endpoint;
  endpoint.addresses = {"10.200.128.1"};
  endpoint.nodeName = "node2";
  slice.endpoints.push_back(endpoint);
  return slice;
}

std::string value(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  at += series.size() + 2;
  return text.substr(at, text.find('\n', at) - at);
}

}  // namespace

TEST_CASE("metrics: kube-proxy's bucket layouts") {
  auto sync = syncDurationBuckets();
  REQUIRE(sync.size() == 15);
  CHECK(sync.front() == doctest::Approx(0.001));
  CHECK(sync.back() == doctest::Approx(16.384));
  auto programming = programmingDurationBuckets();
  CHECK(programming.front() == doctest::Approx(0.25));
  CHECK(programming[2] == doctest::Approx(1));
  CHECK(programming.back() == doctest::Approx(300));
  CHECK(programming.size() == 2 + 59 + 12 + 7);
}

TEST_CASE("metrics: changes pending and total, sync, no-local-endpoints, opted-in Services") {
  MetricsOptions options;
  options.pinDir = "/nonexistent/bpfproxy-test";  // no datapath: its families are left out
  options.nodeName = "node1";
  options.version = "test";
  AgentMetrics metrics(options);
  auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  metrics.onSyncQueued(t0, {3, 5});
  auto text = metrics.render();
  CHECK(value(text, "kubeproxy_sync_proxy_rules_service_changes_pending") == "3");
  CHECK(value(text, "kubeproxy_sync_proxy_rules_endpoint_changes_total") == "5");
  CHECK(value(text, "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds") == "1700000000");

  auto service = localService("web", true);
  FrontendSpec frontend;
  frontend.key = {*bpfproxy::IpAddress::parse("10.32.0.5"), 80, BPX_PROTO_TCP};
  metrics.onServiceBuilt(service.key(), &service, {remoteSlice()}, {frontend});
  auto other = localService("hidden", false);
  other.meta.annotations["bpfproxy.io/lb-algorithm"] = "fastest";  // invalid: counted, default used
  metrics.onServiceBuilt(other.key(), &other, {}, {frontend});
  SyncReport report;
  report.fullSync = true;
  report.changesApplied = {3, 4};
  report.duration = std::chrono::milliseconds(3);
  report.programmingLatencies = {std::chrono::duration<double>(0.7)};
  report.frontendsProgrammed = 2;
  report.backendsProgrammed = 0;
  report.udpSocketsDestroyed = 2;
  report.tcpSocketsDestroyed = 1;
  metrics.onSyncApplied(report);
  metrics.countHealthz(200);
  metrics.countLivez(503);
  text = metrics.render();
  CHECK(value(text, "kubeproxy_sync_proxy_rules_service_changes_pending") == "0");
  CHECK(value(text, "kubeproxy_sync_proxy_rules_endpoint_changes_pending") == "1");
  CHECK(value(text, "kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"}") == "1");
  CHECK(value(text, "kubeproxy_network_programming_duration_seconds_bucket{le=\"0.5\"}") == "0");
  CHECK(value(text, "kubeproxy_network_programming_duration_seconds_bucket{le=\"1\"}") == "1");
  // web has endpoints, none on node1: counted once per policy. hidden has no endpoints.
  CHECK(value(text, "kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"internal\"}") == "1");
  CHECK(value(text, "kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"external\"}") == "1");
  CHECK(value(text, "kubeproxy_proxy_healthz_total{code=\"200\"}") == "1");
  CHECK(value(text, "kubeproxy_proxy_livez_total{code=\"503\"}") == "1");
  CHECK(value(text, "bpfproxy_stale_sockets_destroyed_total{protocol=\"udp\"}") == "2");
  CHECK(value(text, "bpfproxy_stale_sockets_destroyed_total{protocol=\"tcp\"}") == "1");
  CHECK(text.find("bpfproxy_service_backends{frontend=\"10.32.0.5:80\",name=\"web\"") != std::string::npos);
  CHECK(text.find("name=\"hidden\"") == std::string::npos);  // not opted in
  CHECK(value(text, "bpfproxy_services_invalid_lb_annotations") == "1");

  metrics.onServiceBuilt(service.key(), nullptr, {}, {});  // deleted
  text = metrics.render();
  CHECK(value(text, "kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"internal\"}") == "0");
  other.meta.annotations["bpfproxy.io/lb-algorithm"] = "maglev";  // fixed
  metrics.onServiceBuilt(other.key(), &other, {}, {frontend});
  text = metrics.render();
  CHECK(value(text, "bpfproxy_services_invalid_lb_annotations") == "0");

  // promtool is the judge dashboards rely on; without it the case reports SKIP.
  BPX_SKIP_IF_NOT_EMPTY(std::system("command -v promtool >/dev/null 2>&1") == 0
                            ? ""
                            : "promtool not installed (scripts/setup.sh installs it)");
  std::string path = "/tmp/bpfproxy-metrics-test.prom";
  std::ofstream(path) << text;
  int rc = std::system(("promtool check metrics < " + path + " >/tmp/bpfproxy-metrics-test.out 2>&1").c_str());
  std::ifstream out("/tmp/bpfproxy-metrics-test.out");
  std::string complaints((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  CAPTURE(complaints);
  CHECK(rc == 0);
  std::remove(path.c_str());
  std::remove("/tmp/bpfproxy-metrics-test.out");
}

TEST_CASE("logging: JSON lines escape quotes, backslashes and newlines in messages") {
  auto formatter = bpfproxy::cli::makeLogFormatter("json");
  spdlog::details::log_msg msg("bpfproxy", spdlog::level::warn, "skipped: \"a\\b\"\nnext\x01");
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  std::string line(out.data(), out.size());
  CHECK(line.find(R"("level":"warning","msg":"skipped: \"a\\b\"\nnext\u0001"})") != std::string::npos);
}
