// The agent's --config file: parsed, then applied to the agent command's flags as
// `bpfproxy agent --config FILE` does (nothing runs: the command is not parsed).
#include <CLI/CLI.hpp>

#include "cli/agent_config.h"
#include "cli/commands.h"
#include "fuzz/targets.h"

namespace bpfproxy::fuzz {

int configFile(const uint8_t* data, size_t size) {
  auto config = cli::parseAgentConfig(std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  if (!config.error.empty()) return 0;
  CLI::App app;
  int exitCode = 0;
  cli::addAgentCommand(app, exitCode);
  auto* agent = app.get_subcommand("agent");
  (void)cli::applyAgentConfig(config, *agent);
  (void)cli::effectiveConfig(*agent, config).serialize();
  return 0;
}

}  // namespace bpfproxy::fuzz
