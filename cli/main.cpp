// bpfproxy: an eBPF replacement for kube-proxy. One binary, several subcommands.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/ops_views.h"

int main(int argc, char** argv) {
  CLI::App app{"bpfproxy: Kubernetes Services in eBPF, a kube-proxy replacement"};
  app.require_subcommand(1);
  int exitCode = bpfproxy::cli::kExitOk;
  bpfproxy::cli::addAgentCommand(app, exitCode);
  bpfproxy::cli::addInspectCommands(app, exitCode);
  bpfproxy::cli::addAdminCommands(app, exitCode);
  bpfproxy::cli::addOperabilityCommands(app, exitCode);
  bpfproxy::cli::addTakeoverCommand(app, exitCode);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int rc = app.exit(error);
    return rc == 0 ? 0 : bpfproxy::cli::kExitUsage;
  }
  return exitCode;
}
