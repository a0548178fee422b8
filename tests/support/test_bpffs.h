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

// For doctest::skip(): true (and why, once, on stderr) when BPF tests cannot run here.
bool skipWithoutBpf();

}  // namespace bpfproxy::testing
