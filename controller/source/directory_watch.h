#pragma once
// Wakes a thread when a directory's entries change (inotify), when asked to, or when a
// timeout passes; polling stays the fallback for changes inotify does not report.
#include <chrono>
#include <filesystem>

#include "base/unique_fd.h"

namespace bpfproxy::controller {

class DirectoryWatch {
public:
  explicit DirectoryWatch(const std::filesystem::path& directory);

  // Returns when the directory changed, wake() was called, or `timeout` passed.
  void wait(std::chrono::milliseconds timeout);
  void wake();

private:
  UniqueFd inotify_;  // empty when the directory cannot be watched: polling still works
  UniqueFd wakeup_;   // eventfd
};

}  // namespace bpfproxy::controller
