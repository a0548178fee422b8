// --config: KubeProxyConfiguration-shaped YAML mapped onto the agent's flags.
#include <doctest/doctest.h>

#include "cli/agent_config.h"

using namespace bpfproxy::cli;

namespace {

// The agent flags the file maps to, as the agent command declares them.
struct App {
  CLI::App app{"test"};
  std::string metrics = "127.0.0.1:10249", healthz = "0.0.0.0:10256", minSync = "1s", syncPeriod = "30s", format = "text";
  std::vector<std::string> clusterCidrs{"10.200.0.0/16"};
  uint32_t maxServices = 65536;
  App() {
    app.add_option("--metrics-bind-address", metrics)->capture_default_str();
    app.add_option("--healthz-bind-address", healthz)->capture_default_str();
    app.add_option("--min-sync-period", minSync)->capture_default_str();
    app.add_option("--sync-period", syncPeriod)->capture_default_str();
    app.add_option("--log-format", format)->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    app.add_option("--cluster-cidr", clusterCidrs)->delimiter(',')->capture_default_str();
    app.add_option("--max-services", maxServices)->capture_default_str();
  }
  void parse(std::vector<std::string> args) {
    std::reverse(args.begin(), args.end());
    app.parse(args);
  }
};

}  // namespace

TEST_CASE("config: a good file sets the flags it names; the command line wins") {
  auto config = parseAgentConfig(R"(
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
metricsBindAddress: 0.0.0.0:9999
healthzBindAddress: "[::]:10256"
clusterCIDR: 10.1.0.0/16,fd00:1::/64
minSyncPeriod: 2s
logging:
  format: json
bpfproxy:
  mapSizes:
    services: 1024
)",
                                 "good.yaml");
  REQUIRE(config.error.empty());
  App a;
  a.parse({"--min-sync-period", "5s"});
  CHECK(applyAgentConfig(config, a.app) == "");
  CHECK(a.metrics == "0.0.0.0:9999");
  CHECK(a.healthz == "[::]:10256");
  CHECK(a.clusterCidrs == std::vector<std::string>{"10.1.0.0/16", "fd00:1::/64"});
  CHECK(a.minSync == "5s");  // the flag, not the file
  CHECK(a.format == "json");
  CHECK(a.maxServices == 1024);
  auto effective = effectiveConfig(a.app, config);
  CHECK(effective.at("minSyncPeriod").as_string() == "5s");
  CHECK(effective.at("syncPeriod").as_string() == "30s");  // the default
  CHECK(effective.at("bpfproxy").at("mapSizes").at("services").as_string() == "1024");
  CHECK(effective.at("mode").as_string() == "ebpf");
}

TEST_CASE("config: unknown keys and bad values are errors naming the key") {
  struct Case {
    const char* description;
    const char* yaml;
    const char* error;
  };
  const Case cases[] = {
      {"unknown top-level key", "metricsBindAdress: 1.2.3.4:1\n", "bad.yaml: key metricsBindAdress: unknown key"},
      {"unknown nested key", "bpfproxy:\n  mapSizes:\n    service: 1\n", "key bpfproxy.mapSizes.service: unknown key"},
      {"bad duration", "minSyncPeriod: soon\n", "key minSyncPeriod: 'soon' is not a duration"},
      {"bad address", "healthzBindAddress: localhost:10256\n", "key healthzBindAddress: 'localhost:10256' is not ip:port"},
      {"bad CIDR in a list", "clusterCIDR: [10.0.0.0/8, banana]\n", "key clusterCIDR: 'banana' is not a CIDR"},
      {"bad number", "bpfproxy:\n  mapSizes:\n    backends: -1\n", "key bpfproxy.mapSizes.backends: '-1' is not a non-negative integer"},
      {"bad enum", "logging:\n  format: xml\n", "key logging.format: 'xml' is not one of: text, json"},
      {"other mode", "mode: ipvs\n", "key mode: 'ipvs' is not one of: ebpf"},
      {"unsupported algorithm", "bpfproxy:\n  algorithm: maglev\n", "key bpfproxy.algorithm: 'maglev' is not one of: random"},
      {"list for a scalar", "minSyncPeriod: [1s]\n", "key minSyncPeriod: expects a single value"},
      {"not YAML", "a: [\n", "bad.yaml: not YAML"},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.description));
    CAPTURE(parseAgentConfig(c.yaml, "bad.yaml").error);
    auto config = parseAgentConfig(c.yaml, "bad.yaml");
    CHECK(config.error.find(c.error) != std::string::npos);
  }
}

TEST_CASE("config: kube-proxy keys without meaning here are ignored with a warning") {
  auto config = parseAgentConfig("iptables:\n  masqueradeAll: true\nconntrack:\n  tcpBeLiberal: true\n", "kp.yaml");
  CHECK(config.error.empty());
  REQUIRE(config.warnings.size() == 2);
  CHECK(config.warnings[0] == "kp.yaml: key iptables.masqueradeAll has no meaning for bpfproxy; ignored");
}

TEST_CASE("config: a key whose flag this build lacks is an error naming both") {
  auto config = parseAgentConfig("clientConnection:\n  kubeconfig: /etc/kubeconfig\n", "k.yaml");
  REQUIRE(config.error.empty());
  App a;
  a.parse({});
  CHECK(applyAgentConfig(config, a.app) ==
        "key clientConnection.kubeconfig: this build has no --kubeconfig flag to set");
}
