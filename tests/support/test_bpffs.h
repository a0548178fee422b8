#pragma once
// A private bpffs directory for one test, removed with everything pinned in it.
#include <string>

namespace bpfproxy::testing {

class TestBpffsDir {
public:
  TestBpffsDir();
  ~TestBpffsDir();
  TestBpffsDir(const TestBpffsDir&) = delete;
  TestBpffsDir& operator=(const TestBpffsDir&) = delete;
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

// BPF tests need root and bpffs; when they cannot run, `why` says so.
bool bpfTestsPossible(std::string* why = nullptr);

// Why BPF tests cannot run here, or "" when they can. Called inside a test case (with
// BPX_SKIP_IF_NOT_EMPTY), never at static initialisation: the probe needs root.
std::string bpfUnavailable();

}  // namespace bpfproxy::testing
