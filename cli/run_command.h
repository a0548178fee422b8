#pragma once
// Running the node's own tools (iptables-save, nft, ipvsadm) from doctor and takeover.
#include <optional>
#include <string>

namespace bpfproxy::cli {

struct CommandResult {
  int status = -1;     // exit status; 127: not installed
  std::string output;  // stdout (stderr too when asked)
};

// `sh -c COMMAND`, with `input` on its stdin when given. stderr is dropped unless
// `withStderr` (then it is part of output, for error messages).
CommandResult runCommand(const std::string& command, const std::optional<std::string>& input = std::nullopt,
                         bool withStderr = false);

// stdout of a read-only command; nullopt when it is not installed.
std::optional<std::string> readCommand(const std::string& command);

}  // namespace bpfproxy::cli
