#include "cli/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace bpfproxy::cli {

void addLogFlags(CLI::App& cmd, LogFlags& flags) {
  cmd.add_option("--log-level", flags.level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  cmd.add_option("--log-format", flags.format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
}

void setUpLogging(const LogFlags& flags) {
  auto logger = spdlog::stderr_logger_mt("bpfproxy");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(flags.level));
  if (flags.format == "json")
    spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":"%v"})");
  else
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace bpfproxy::cli
