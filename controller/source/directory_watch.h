#pragma once
// Wakes a thread when a directory's entries change (inotify), when asked to, or when a
// timeout passes; polling stays the fallback for changes inotify does not report.
#include <chrono>
#include <filesystem>

namespace bpfproxy::controller {

class DirectoryWatch {
public:
  explicit DirectoryWatch(const std::filesystem::path& directory);
  ~DirectoryWatch();
  DirectoryWatch(const DirectoryWatch&) = delete;
  DirectoryWatch& operator=(const DirectoryWatch&) = delete;

  // Returns when the directory changed, wake() was called, or `timeout` passed.
  void wait(std::chrono::milliseconds timeout);
  void wake();

private:
  int inotify_ = -1;
  int wakeup_ = -1;  // eventfd
};

}  // namespace bpfproxy::controller
