#include "cli/run_command.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "base/unique_fd.h"

namespace bpfproxy::cli {

CommandResult runCommand(const std::string& command, const std::optional<std::string>& input, bool withStderr) {
  CommandResult result;
  // The input goes through a file: a pipe both ways from popen() is not possible, and the
  // inputs (iptables-restore scripts) are small.
  std::string inputFile;
  if (input) {
    char name[] = "/tmp/bpfproxy-input-XXXXXX";
    if (UniqueFd fd(mkstemp(name)); !fd) return result;
    inputFile = name;
    std::ofstream(inputFile) << *input;
  }
  std::string line = command + (inputFile.empty() ? " </dev/null" : " <" + inputFile) +
                     (withStderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe) {
    std::array<char, 4096> buffer;
    size_t n;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
    int status = pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  if (!inputFile.empty()) unlink(inputFile.c_str());
  return result;
}

std::optional<std::string> readCommand(const std::string& command) {
  auto result = runCommand(command);
  if (result.status == 127 || result.status < 0) return std::nullopt;
  return result.output;
}

}  // namespace bpfproxy::cli
