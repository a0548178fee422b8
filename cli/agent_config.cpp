#include "cli/agent_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "cli/duration.h"
#include "maps/ip_address.h"

namespace bpfproxy::cli {

namespace {

using K = ConfigKind;

// KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) fields that mean nothing to an
// eBPF proxy: those of the other modes and of kube-proxy's own process. Accepted, so that
// the file kubeadm writes into the kube-proxy ConfigMap is used unchanged; named in one
// warning. A trailing '*' takes any key below (maps with free keys).
const std::set<std::string>& ignoredKubeProxyKeys() {
  static const std::set<std::string> keys = {
      "bindAddress", "bindAddressHardFail", "clusterCIDR", "configSyncPeriod", "detectLocalMode",
      "detectLocal.bridgeInterface", "detectLocal.interfaceNamePrefix", "enableProfiling", "featureGates.*",
      "oomScoreAdj", "portRange", "showHiddenMetricsForVersion", "udpIdleTimeout", "windowsRunAsService",
      "logging.verbosity", "logging.flushFrequency", "logging.vmodule", "logging.options.*",
      "clientConnection.acceptContentTypes", "clientConnection.contentType", "clientConnection.qps",
      "clientConnection.burst",
      "conntrack.maxPerCore", "conntrack.min", "conntrack.tcpEstablishedTimeout", "conntrack.tcpCloseWaitTimeout",
      "conntrack.tcpBeLiberal", "conntrack.udpTimeout", "conntrack.udpStreamTimeout",
      "iptables.masqueradeAll", "iptables.masqueradeBit", "iptables.localhostNodePorts", "iptables.syncPeriod",
      "iptables.minSyncPeriod",
      "ipvs.syncPeriod", "ipvs.minSyncPeriod", "ipvs.scheduler", "ipvs.excludeCIDRs", "ipvs.strictARP",
      "ipvs.tcpTimeout", "ipvs.tcpFinTimeout", "ipvs.udpTimeout",
      "nftables.masqueradeAll", "nftables.masqueradeBit", "nftables.syncPeriod", "nftables.minSyncPeriod",
      "winkernel.networkName", "winkernel.sourceVip", "winkernel.enableDSR", "winkernel.rootHnsEndpointName",
      "winkernel.forwardHealthCheckVip"};
  return keys;
}

bool isIgnoredKubeProxyKey(const std::string& path) {
  for (const auto& key : ignoredKubeProxyKeys()) {
    if (key.back() == '*' ? path.rfind(key.substr(0, key.size() - 1), 0) == 0 : path == key) return true;
  }
  return false;
}

// What kubeadm writes for a field it leaves to kube-proxy's default.
bool isZeroValue(const YAML::Node& node) {
  if (node.IsNull()) return true;
  if (node.IsSequence() || node.IsMap()) return node.size() == 0;
  const std::string text = node.Scalar();
  return text.empty() || text == "0" || text == "0s" || text == "false";
}

bool validHostPort(const std::string& text) {
  if (text.empty()) return true;  // disables the server, as in kube-proxy
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto address = IpAddress::parse(host.substr(1, host.size() - 2));
    if (!address || address->isV4()) return false;
  } else if (!IpAddress::parse(host) || !IpAddress::parse(host)->isV4()) {
    return false;
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  return std::stoi(port) <= 65535;
}

// The error says why the value is bad.
Status check(const ConfigKey& key, const std::string& value) {
  switch (key.kind) {
    case K::Duration:
      if (!parseDuration(value)) return Error{"'" + value + "' is not a duration (like 30s, 500ms or 1h)"};
      return {};
    case K::Cidrs:
      if (!Cidr::parse(value)) return Error{"'" + value + "' is not a CIDR (like 10.200.0.0/16)"};
      return {};
    case K::HostPort:
      if (!validHostPort(value)) return Error{"'" + value + "' is not ip:port (like 0.0.0.0:10256 or [::]:10256)"};
      return {};
    case K::Uint:
      if (value.empty() || value.size() > 10 || value.find_first_not_of("0123456789") != std::string::npos ||
          std::stoull(value) > 0xffffffffull)
        return Error{"'" + value + "' is not a non-negative integer"};
      return {};
    case K::Enum: {
      for (const auto& allowed : key.allowed)
        if (value == allowed) return {};
      std::string list;
      for (const auto& allowed : key.allowed) list += (list.empty() ? "" : ", ") + allowed;
      return Error{"'" + value + "' is not one of: " + list};
    }
    case K::String:
    case K::Path:
    case K::Strings:
      return {};
  }
  return {};
}

void walk(const YAML::Node& node, const std::string& prefix, std::vector<std::pair<std::string, YAML::Node>>& out) {
  for (const auto& item : node) {
    std::string path = prefix.empty() ? item.first.as<std::string>() : prefix + "." + item.first.as<std::string>();
    if (item.second.IsMap()) walk(item.second, path, out);
    else out.emplace_back(path, item.second);
  }
}

}  // namespace

const std::vector<ConfigKey>& configKeys() {
  static const std::vector<ConfigKey> keys = {
      {"apiVersion", "", K::Enum, {"kubeproxy.config.k8s.io/v1alpha1", "bpfproxy.io/v1alpha1"}},
      {"kind", "", K::Enum, {"KubeProxyConfiguration", "BpfProxyConfiguration"}},
      {"mode", "", K::Enum, {"", "ebpf"}},
      {"hostnameOverride", "--node-name", K::String, {}},
      {"nodePortAddresses", "--nodeport-addresses", K::Cidrs, {}},
      {"metricsBindAddress", "--metrics-bind-address", K::HostPort, {}},
      {"healthzBindAddress", "--healthz-bind-address", K::HostPort, {}},
      {"syncPeriod", "--sync-period", K::Duration, {}},
      {"minSyncPeriod", "--min-sync-period", K::Duration, {}},
      {"clientConnection.kubeconfig", "--kubeconfig", K::Path, {}},
      {"logging.format", "--log-format", K::Enum, {"text", "json"}},
      {"bpfproxy.logLevel", "--log-level", K::Enum, {"trace", "debug", "info", "warn", "error"}},
      {"bpfproxy.manifests", "--manifests", K::Path, {}},
      {"bpfproxy.pinDir", "--pin-dir", K::Path, {}},
      {"bpfproxy.cgroup", "--cgroup", K::Path, {}},
      {"bpfproxy.serviceCIDRs", "--service-cidr", K::Cidrs, {}},
      {"bpfproxy.devices", "--devices", K::Strings, {}},
      {"bpfproxy.podDevices", "--pod-devices", K::Strings, {}},
      {"bpfproxy.nodePortRange", "--nodeport-range", K::String, {}},
      {"bpfproxy.algorithm", "--algorithm", K::Enum, {"random", "maglev", "round-robin"}},
      {"bpfproxy.maglevTableSize", "--maglev-table-size", K::Uint, {}},
      {"bpfproxy.maxMetricsServices", "--max-metrics-services", K::Uint, {}},
      {"bpfproxy.mapSizes.services", "--max-services", K::Uint, {}},
      {"bpfproxy.mapSizes.backends", "--max-backends", K::Uint, {}},
      {"bpfproxy.mapSizes.conntrack", "--max-conntrack", K::Uint, {}},
      {"bpfproxy.mapSizes.affinity", "--max-affinity", K::Uint, {}},
  };
  return keys;
}

LoadedConfig parseAgentConfig(const std::string& yamlText, const std::string& fileName) {
  LoadedConfig result;
  YAML::Node root;
  try {
    root = YAML::Load(yamlText);
  } catch (const YAML::Exception& e) {
    result.error = fileName + ": not YAML: " + e.what();
    return result;
  }
  if (root.IsNull()) return result;  // an empty file sets nothing
  if (!root.IsMap()) {
    result.error = fileName + ": the top level must be a mapping of keys";
    return result;
  }
  std::vector<std::pair<std::string, YAML::Node>> leaves;
  try {
    walk(root, "", leaves);
  } catch (const YAML::Exception& e) {
    result.error = fileName + ": " + e.what();
    return result;
  }
  auto fail = [&](const std::string& path, const std::string& why) {
    result.error = fileName + ": key " + path + ": " + why;
    return result;
  };
  std::vector<std::string> ignoredSet;
  size_t ignoredDefault = 0;
  for (const auto& [path, node] : leaves) {
    const ConfigKey* key = nullptr;
    for (const auto& candidate : configKeys())
      if (candidate.path == path) key = &candidate;
    // kube-proxy's other modes, and a mode other than ours: accepted, named once below.
    const bool otherMode = path == "mode" && node.IsScalar() && node.Scalar() != "ebpf" && !node.Scalar().empty();
    if (!key || otherMode) {
      if (!isIgnoredKubeProxyKey(path) && !otherMode) return fail(path, "unknown key (not a KubeProxyConfiguration field)");
      if (isZeroValue(node)) ++ignoredDefault;
      else ignoredSet.push_back(path + "=" + (node.IsScalar() ? node.Scalar() : "..."));
      continue;
    }
    // null or "": kube-proxy's default (kubeadm writes every field, most of them so).
    if (node.IsNull() || (node.IsScalar() && node.Scalar().empty())) continue;
    std::vector<std::string> values;
    bool list = key->kind == K::Cidrs || key->kind == K::Strings;
    if (node.IsSequence()) {
      if (!list) return fail(path, "expects a single value, not a list");
      for (const auto& item : node) {
        if (!item.IsScalar()) return fail(path, "list items must be plain values");
        values.push_back(item.as<std::string>());
      }
    } else if (node.IsScalar()) {
      std::string text = node.as<std::string>();
      if (list) {  // kube-proxy's clusterCIDR is one comma-separated string
        std::stringstream in(text);
        std::string item;
        while (std::getline(in, item, ','))
          if (!item.empty()) values.push_back(item);
      } else {
        values.push_back(text);
      }
    } else if (node.IsNull()) {
      if (list) values = {};
      else values.push_back("");
    } else {
      return fail(path, "expects a value");
    }
    for (const auto& value : values)
      if (auto checked = check(*key, value); !checked) return fail(path, checked.error().message);
    result.entries.push_back({path, key->flag, values});
  }
  if (!ignoredSet.empty() || ignoredDefault > 0) {
    std::string list;
    for (const auto& item : ignoredSet) list += (list.empty() ? "" : ", ") + item;
    result.warnings.push_back(
        fileName + ": kube-proxy fields that do not apply to bpfproxy (other proxy modes, conntrack sysctls, "
        "kube-proxy's own process) are ignored: " + (list.empty() ? "none set" : list) +
        (ignoredDefault ? " (and " + std::to_string(ignoredDefault) + " left at their defaults)" : ""));
  }
  return result;
}

LoadedConfig loadAgentConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    LoadedConfig result;
    result.error = path + ": cannot read the file";
    return result;
  }
  std::stringstream text;
  text << in.rdbuf();
  return parseAgentConfig(text.str(), path);
}

Status applyAgentConfig(const LoadedConfig& config, CLI::App& cmd) {
  for (const auto& entry : config.entries) {
    if (entry.flag.empty()) continue;
    CLI::Option* option = cmd.get_option_no_throw(entry.flag);
    if (!option) return Error{"key " + entry.path + ": this build has no " + entry.flag + " flag to set"};
    if (option->count() > 0) continue;  // the command line wins
    if (entry.values.empty()) continue;
    try {
      option->add_result(entry.values);
      option->run_callback();
    } catch (const CLI::Error& e) {
      return Error{"key " + entry.path + ": " + e.what()};
    }
  }
  return {};
}

web::json::value effectiveConfig(const CLI::App& cmd, const LoadedConfig& config) {
  auto root = web::json::value::object(true);
  auto setPath = [&](const std::string& path, web::json::value value) {
    web::json::value* node = &root;
    std::stringstream in(path);
    std::string part;
    std::vector<std::string> parts;
    while (std::getline(in, part, '.')) parts.push_back(part);
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (!node->has_field(parts[i])) (*node)[parts[i]] = web::json::value::object(true);
      node = &(*node)[parts[i]];
    }
    (*node)[parts.back()] = std::move(value);
  };
  for (const auto& key : configKeys()) {
    std::vector<std::string> values;
    bool known = false;
    if (!key.flag.empty()) {
      const CLI::Option* option = cmd.get_option_no_throw(key.flag);
      if (!option) continue;
      known = true;
      if (option->count() > 0) {
        values = option->results();
      } else if (!option->get_default_str().empty()) {
        values = {option->get_default_str()};
        if (key.kind == K::Cidrs || key.kind == K::Strings) {  // CLI11 shows lists as [a,b]
          std::string text = values.front();
          if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
          values.clear();
          std::stringstream in(text);
          std::string item;
          while (std::getline(in, item, ','))
            if (!item.empty()) values.push_back(item);
        }
      }
    } else {
      for (const auto& entry : config.entries)
        if (entry.path == key.path) values = entry.values, known = true;
      if (!known && key.path == "mode") values = {"ebpf"}, known = true;
      if (!known && key.path == "apiVersion") values = {"bpfproxy.io/v1alpha1"}, known = true;
      if (!known && key.path == "kind") values = {"BpfProxyConfiguration"}, known = true;
    }
    if (!known) continue;
    if (key.kind == K::Cidrs || key.kind == K::Strings) {
      auto array = web::json::value::array();
      for (size_t i = 0; i < values.size(); ++i) array[i] = web::json::value::string(values[i]);
      setPath(key.path, array);
    } else {
      setPath(key.path, web::json::value::string(values.empty() ? "" : values.front()));
    }
  }
  return root;
}

}  // namespace bpfproxy::cli
