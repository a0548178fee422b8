// A command line (arguments separated by NUL or newline) parsed by the real command tree.
// Parsing and the option checks run; the root's parse-complete callback, which CLI11 calls
// before any command's callback, stops there, so no command runs. (Removing the commands'
// callbacks instead would free the flags they own and leave the options pointing at them.)
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/ops_views.h"
#include "fuzz/targets.h"

namespace bpfproxy::fuzz {

namespace {
struct Parsed {};  // thrown once the command line parsed
}  // namespace

int commandLine(const uint8_t* data, size_t size) {
  std::vector<std::string> args;
  std::string current;
  for (size_t i = 0; i < size; ++i) {
    char c = static_cast<char>(data[i]);
    if (c == '\0' || c == '\n') {
      args.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) args.push_back(current);
  if (args.size() > 64) return 0;

  CLI::App app{"bpfproxy"};
  app.require_subcommand(1);
  int exitCode = 0;
  cli::addAgentCommand(app, exitCode);
  cli::addInspectCommands(app, exitCode);
  cli::addAdminCommands(app, exitCode);
  cli::addOperabilityCommands(app, exitCode);
  app.parse_complete_callback([] { throw Parsed{}; });
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    app.parse(reversed);
  } catch (const CLI::Error&) {
    // A refusal with a message is the expected answer to a bad command line.
  } catch (const Parsed&) {
  }
  return 0;
}

}  // namespace bpfproxy::fuzz
