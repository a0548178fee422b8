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

DirectoryWatch::DirectoryWatch(const std::filesystem::path& directory)
    : inotify_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)), wakeup_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (inotify_ && inotify_add_watch(inotify_.get(), directory.c_str(),
                                    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                                        IN_MODIFY | IN_ATTRIB) < 0)
    inotify_.reset();  // e.g. the directory does not exist yet: polling still works
}

void DirectoryWatch::wait(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {wakeup_.get(), POLLIN, 0}};
  if (poll(fds, 2, static_cast<int>(timeout.count())) > 0 && (fds[0].revents & POLLIN)) {
    // Editors and kubectl cp write in steps: let a burst settle before rereading.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    drain(inotify_.get());
  }
  drain(wakeup_.get());
}

void DirectoryWatch::wake() {
  uint64_t one = 1;
  if (wakeup_) (void)!write(wakeup_.get(), &one, sizeof(one));
}

}  // namespace bpfproxy::controller
