#include "controller/source/directory_watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstdint>
#include <thread>

namespace bpfproxy::controller {

namespace {
void drain(int fd) {
  char buffer[4096];
  while (fd >= 0 && read(fd, buffer, sizeof(buffer)) > 0) {
  }
}
}  // namespace

DirectoryWatch::DirectoryWatch(const std::filesystem::path& directory) {
  inotify_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_ >= 0 &&
      inotify_add_watch(inotify_, directory.c_str(),
                        IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                            IN_MODIFY | IN_ATTRIB) < 0) {
    close(inotify_);  // e.g. the directory does not exist yet: polling still works
    inotify_ = -1;
  }
  wakeup_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

DirectoryWatch::~DirectoryWatch() {
  if (inotify_ >= 0) close(inotify_);
  if (wakeup_ >= 0) close(wakeup_);
}

void DirectoryWatch::wait(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{inotify_, POLLIN, 0}, {wakeup_, POLLIN, 0}};
  if (poll(fds, 2, static_cast<int>(timeout.count())) > 0 && (fds[0].revents & POLLIN)) {
    // Editors and kubectl cp write in steps: let a burst settle before rereading.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    drain(inotify_);
  }
  drain(wakeup_);
}

void DirectoryWatch::wake() {
  uint64_t one = 1;
  if (wakeup_ >= 0) (void)!write(wakeup_, &one, sizeof(one));
}

}  // namespace bpfproxy::controller
