#include "tests/support/test_cgroup.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>

#include "loader/system_paths.h"

namespace bpfproxy::testing {

namespace {
std::atomic<int> counter{0};
}

TestCgroup::TestCgroup() {
  auto root = loader::findCgroup2Mount();
  if (!root) throw std::runtime_error("no cgroup v2 mount");
  path_ = *root + "/bpfproxy-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  if (mkdir(path_.c_str(), 0755) != 0) throw std::runtime_error("cannot create " + path_);
}

TestCgroup::~TestCgroup() { rmdir(path_.c_str()); }

unsigned TestCgroup::attachedPrograms(int attachType) const {
  int fd = open(path_.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return 0;
  __u32 ids[64];
  __u32 count = 64;
  __u32 flags = 0;
  int rc = bpf_prog_query(fd, static_cast<bpf_attach_type>(attachType), 0, &flags, ids, &count);
  close(fd);
  return rc == 0 ? count : 0;
}

}  // namespace bpfproxy::testing
