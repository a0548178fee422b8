#pragma once
// A child of the cgroup v2 mount for one test, removed at the end. Programs are attached
// only to cgroups like this one, never to the machine's root cgroup.
#include <string>

namespace bpfproxy::testing {

class TestCgroup {
public:
  TestCgroup();
  ~TestCgroup();
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;
  const std::string& path() const { return path_; }
  // Programs attached to it for one attach type (BPF_CGROUP_INET4_CONNECT, ...).
  unsigned attachedPrograms(int attachType) const;

private:
  std::string path_;
};

}  // namespace bpfproxy::testing
