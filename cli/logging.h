#pragma once
// --log-level and --log-format for every long-running command.
#include <CLI/CLI.hpp>
#include <string>

namespace bpfproxy::cli {

struct LogFlags {
  std::string level = "info";
  std::string format = "text";  // or json
};

void addLogFlags(CLI::App& cmd, LogFlags& flags);
void setUpLogging(const LogFlags& flags);

}  // namespace bpfproxy::cli
