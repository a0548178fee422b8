#pragma once
// The subcommands of the one `bpfproxy` binary. Each registers itself on the app and sets
// `exitCode` when it runs.
#include <CLI/CLI.hpp>

namespace bpfproxy::cli {

void addAgentCommand(CLI::App& app, int& exitCode);
void addInspectCommands(CLI::App& app, int& exitCode);  // service, backend
void addAdminCommands(CLI::App& app, int& exitCode);    // version, cleanup
void addTakeoverCommand(CLI::App& app, int& exitCode);  // kube-proxy's state removed

// Exit codes that mean something to scripts.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotFound = 3;  // no pinned datapath where one was expected

}  // namespace bpfproxy::cli
