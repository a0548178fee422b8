#pragma once
// `bpfproxy agent --config FILE`: kube-proxy's KubeProxyConfiguration (as kubeadm writes it
// into the kube-proxy ConfigMap, unchanged) or bpfproxy's own file, the same keys plus a
// `bpfproxy:` section. Each key that means something here maps to an agent flag; a flag
// given on the command line wins over the file; null or "" is kube-proxy's default.
// KubeProxyConfiguration fields of other modes are accepted and named in one warning. Keys
// kube-proxy does not know, and bad values, are errors that name the key.
#include <cpprest/json.h>

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "base/result.h"

namespace bpfproxy::cli {

enum class ConfigKind { String, Path, Duration, Cidrs, HostPort, Uint, Enum, Strings };

struct ConfigKey {
  std::string path;  // "conntrack.udpTimeout"
  std::string flag;  // "--conntrack-udp-timeout"; empty: checked and shown, no flag
  ConfigKind kind = ConfigKind::String;
  std::vector<std::string> allowed;  // for Enum
};

// Every key the file may hold, in the order /configz shows them.
const std::vector<ConfigKey>& configKeys();

struct ConfigEntry {
  std::string path;
  std::string flag;
  std::vector<std::string> values;  // one for scalars; lists keep one item each
};

struct LoadedConfig {
  std::vector<ConfigEntry> entries;
  std::vector<std::string> warnings;  // one naming the kube-proxy fields that do not apply here
  std::string error;                  // "FILE: key X: why"; empty when the file is good
};

LoadedConfig parseAgentConfig(const std::string& yamlText, const std::string& fileName);
LoadedConfig loadAgentConfig(const std::string& path);

// Sets each option from the file unless the command line gave it. The error names the key
// (also when this build has no flag for a key the file sets).
Status applyAgentConfig(const LoadedConfig& config, CLI::App& cmd);

// The effective configuration, for /configz: every key whose flag exists, with the value
// in force (command line, then file, then default).
web::json::value effectiveConfig(const CLI::App& cmd, const LoadedConfig& config);

}  // namespace bpfproxy::cli
