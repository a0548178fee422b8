#pragma once
// The agent's flags for the per-packet datapath, kept apart from the other agent flags.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "base/result.h"
#include "controller/sync/agent.h"

namespace bpfproxy::cli {

struct TcFlags {
  std::string devices = "auto";  // IF[,IF], "auto" (default-route devices) or "none"
  std::vector<std::string> podDevices;
  std::vector<std::string> nodePortAddresses;
  std::string nodePortRange = "30000-32767";
  std::string snatPortRange = "61000-65535";
  bool allowExternalClusterIp = false;
  bool allowExternalIps = false;  // accepted for old command lines: now the default
  bool externalIpsNodeOnly = false;
  bool reservePorts = true;
};

void addTcFlags(CLI::App& command, TcFlags& flags);

// Fills options.tc from the flags (after the rest of options is set); the error names the flag.
Status buildTcOptions(const TcFlags& flags,
                           controller::AgentOptions& options);

}  // namespace bpfproxy::cli
