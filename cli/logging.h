#pragma once
// --log-level and --log-format for every long-running command.
#include <CLI/CLI.hpp>
#include <memory>
#include <spdlog/formatter.h>
#include <string>

namespace bpfproxy::cli {

struct LogFlags {
  std::string level = "info";
  std::string format = "text";  // or json
};

void addLogFlags(CLI::App& cmd, LogFlags& flags);
void setUpLogging(const LogFlags& flags);

// The formatter setUpLogging installs: "text", or "json" with the message JSON-escaped.
std::unique_ptr<spdlog::formatter> makeLogFormatter(const std::string& format);

}  // namespace bpfproxy::cli
