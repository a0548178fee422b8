#include "tests/support/test_bpffs.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "loader/socket_lb_loader.h"
#include "loader/system_paths.h"

namespace bpfproxy::testing {

namespace {
std::atomic<int> counter{0};
}

TestBpffsDir::TestBpffsDir() {
  path_ = "/sys/fs/bpf/bpfproxy-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  (void)loader::preparePinDir(path_);  // bpfTestsPossible() said why, should it fail
}

TestBpffsDir::~TestBpffsDir() {
  loader::cleanupPins(path_);  // detaches links too, should a test have attached any
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool bpfTestsPossible(std::string* why) {
  if (geteuid() != 0) {
    if (why) *why = "not root";
    return false;
  }
  auto prepared = loader::preparePinDir("/sys/fs/bpf/bpfproxy-probe-" + std::to_string(getpid()));
  std::error_code ec;
  std::filesystem::remove_all("/sys/fs/bpf/bpfproxy-probe-" + std::to_string(getpid()), ec);
  if (!prepared) {
    if (why) *why = prepared.error().message;
    return false;
  }
  return true;
}

std::string bpfUnavailable() {
  static const std::string why = [] {
    std::string reason;
    return bpfTestsPossible(&reason) ? std::string() : reason;
  }();
  return why;
}

}  // namespace bpfproxy::testing
