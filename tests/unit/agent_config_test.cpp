// --config: KubeProxyConfiguration-shaped YAML mapped onto the agent's flags.
#include <doctest/doctest.h>

#include <yaml-cpp/yaml.h>

#include "cli/agent_config.h"
#include "cli/duration.h"

using namespace bpfproxy::cli;

namespace {

// The agent flags the file maps to, as the agent command declares them.
struct App {
  CLI::App app{"test"};
  std::string metrics = "127.0.0.1:10249", healthz = "0.0.0.0:10256", minSync = "1s", syncPeriod = "30s", format = "text";
  std::string nodeName, kubeconfig;
  uint32_t maxServices = 65536;
  App() {
    app.add_option("--metrics-bind-address", metrics)->capture_default_str();
    app.add_option("--healthz-bind-address", healthz)->capture_default_str();
    app.add_option("--min-sync-period", minSync)->capture_default_str();
    app.add_option("--sync-period", syncPeriod)->capture_default_str();
    app.add_option("--log-format", format)->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    app.add_option("--node-name,--hostname-override", nodeName);
    app.add_option("--kubeconfig", kubeconfig);
    app.add_option("--max-services", maxServices)->capture_default_str();
  }
  void parse(std::vector<std::string> args) {
    std::reverse(args.begin(), args.end());
    app.parse(args);
  }
};

}  // namespace

TEST_CASE("config: a good file sets the flags it names, the command line wins") {
  auto config = parseAgentConfig(R"(
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
metricsBindAddress: 0.0.0.0:9999
healthzBindAddress: "[::]:10256"
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
  CHECK(applyAgentConfig(config, a.app).ok());
  CHECK(a.metrics == "0.0.0.0:9999");
  CHECK(a.healthz == "[::]:10256");
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
      {"bad CIDR in a list", "nodePortAddresses: [10.0.0.0/8, banana]\n", "key nodePortAddresses: 'banana' is not a CIDR"},
      {"unknown field in a kube-proxy section", "iptables:\n  masqueradeAl: true\n",
       "key iptables.masqueradeAl: unknown key (not a KubeProxyConfiguration field)"},
      {"bad number", "bpfproxy:\n  mapSizes:\n    backends: -1\n", "key bpfproxy.mapSizes.backends: '-1' is not a non-negative integer"},
      {"bad enum", "logging:\n  format: xml\n", "key logging.format: 'xml' is not one of: text, json"},
      {"unknown algorithm", "bpfproxy:\n  algorithm: fastest\n",
       "key bpfproxy.algorithm: 'fastest' is not one of: random, maglev, round-robin"},
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

TEST_CASE("config: kube-proxy keys without meaning here are named in one warning") {
  auto config = parseAgentConfig(
      "mode: ipvs\niptables:\n  masqueradeAll: true\n  syncPeriod: 0s\nconntrack:\n  tcpBeLiberal: true\n"
      "clusterCIDR: 10.244.0.0/16\nfeatureGates:\n  AnyGate: true\n",
      "kp.yaml");
  CHECK(config.error.empty());
  REQUIRE(config.warnings.size() == 1);
  CHECK(config.warnings[0] ==
        "kp.yaml: kube-proxy fields that do not apply to bpfproxy (other proxy modes, conntrack sysctls, kube-proxy's "
        "own process) are ignored: mode=ipvs, iptables.masqueradeAll=true, conntrack.tcpBeLiberal=true, "
        "clusterCIDR=10.244.0.0/16, featureGates.AnyGate=true (and 1 left at their defaults)");
  CHECK(config.entries.empty());
}

TEST_CASE("config: kubeadm's kube-proxy ConfigMap, unchanged") {
  // The real object: config.conf as kubeadm writes it, nulls and empty strings included.
  auto configMap = YAML::LoadFile(std::string(BPFPROXY_SOURCE_DIR) + "/tests/unit/testdata/kubeadm-kube-proxy-configmap.yaml");
  auto config = parseAgentConfig(configMap["data"]["config.conf"].as<std::string>(), "config.conf");
  REQUIRE(config.error == "");
  REQUIRE(config.warnings.size() == 1);  // one, listing what kube-proxy's other modes set
  CHECK(config.warnings[0].find("bindAddress=0.0.0.0, clusterCIDR=10.244.0.0/16") != std::string::npos);
  CHECK(config.warnings[0].find("iptables") == std::string::npos);  // zero values are only counted
  App a;
  a.parse({"--hostname-override", "node-7"});  // what kubeadm's DaemonSet passes
  CHECK(applyAgentConfig(config, a.app).ok());
  CHECK(a.nodeName == "node-7");
  CHECK(a.kubeconfig == "/var/lib/kube-proxy/kubeconfig.conf");
  CHECK(a.metrics == "127.0.0.1:10249");  // "" is kube-proxy's default, not "off"
  CHECK(a.healthz == "0.0.0.0:10256");
  std::vector<std::string> paths;
  for (const auto& entry : config.entries) paths.push_back(entry.path);
  CHECK(paths == std::vector<std::string>{"apiVersion", "clientConnection.kubeconfig", "kind"});
}

TEST_CASE("config: a key whose flag this build lacks is an error naming both") {
  auto config = parseAgentConfig("bpfproxy:\n  pinDir: /sys/fs/bpf/x\n", "k.yaml");
  REQUIRE(config.error.empty());
  App a;
  a.parse({});
  auto applied = applyAgentConfig(config, a.app);
  REQUIRE_FALSE(applied.ok());
  CHECK(applied.error().message == "key bpfproxy.pinDir: this build has no --pin-dir flag to set");
}

TEST_CASE("config: bpfproxy.maxMetricsServices sets --max-metrics-services") {
  auto config = parseAgentConfig("bpfproxy:\n  maxMetricsServices: 16\n", "m.yaml");
  REQUIRE(config.error.empty());
  CLI::App app{"test"};
  uint32_t maxMetricsServices = 256;
  app.add_option("--max-metrics-services", maxMetricsServices)->capture_default_str();
  app.parse(std::vector<std::string>{});
  CHECK(applyAgentConfig(config, app).ok());
  CHECK(maxMetricsServices == 16);
}

TEST_CASE("duration: Go-style text, and what is not a duration") {
  using std::chrono::milliseconds;
  CHECK(parseDuration("0") == milliseconds(0));
  CHECK(parseDuration("1m30s") == milliseconds(90'000));
  CHECK(parseDuration("1.5s") == milliseconds(1500));
  CHECK(parseDuration("250ms") == milliseconds(250));
  CHECK(parseDuration("2h") == milliseconds(7'200'000));
  for (const char* bad : {"", "s", "1", "1.2.3s", "5d", "-1s", ".s"}) {
    INFO("input: '" << bad << "'");
    CHECK_FALSE(parseDuration(bad).has_value());
  }
  // Found by fuzz_config: 3e29 ms overflowed the conversion to an integer (undefined).
  CHECK_FALSE(parseDuration("303333333333333333333333333333ms").has_value());
  CHECK_FALSE(parseDuration(std::string(400, '9') + "h").has_value());
  CHECK(parseDuration("2562047h") == milliseconds(2562047LL * 3'600'000));  // Go's longest whole hour
}
