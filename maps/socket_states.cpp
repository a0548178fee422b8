#include "maps/socket_states.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include "base/unique_fd.h"

namespace bpfproxy::maps {

namespace {

struct Dir {
  DIR* dir;
  explicit Dir(const std::string& path) : dir(opendir(path.c_str())) {}
  ~Dir() {
    if (dir) closedir(dir);
  }
};

bool isNumber(const char* text) {
  if (!*text) return false;
  for (; *text; ++text)
    if (*text < '0' || *text > '9') return false;
  return true;
}

}  // namespace

std::vector<SocketState> readSocketStates(const SocketStateMap& sockets, size_t* skipped) {
  std::vector<SocketState> states;
  std::set<ino_t> seen;  // a socket shared by fds or processes is read once
  size_t unreadable = 0;
  Dir proc("/proc");
  if (!proc.dir) return states;
  while (dirent* process = readdir(proc.dir)) {
    if (!isNumber(process->d_name)) continue;
    std::string fdDir = std::string("/proc/") + process->d_name + "/fd";
    Dir fds(fdDir);
    if (!fds.dir) continue;
    UniqueFd pidfd;
    while (dirent* entry = readdir(fds.dir)) {
      if (!isNumber(entry->d_name)) continue;
      struct stat target{};
      if (stat((fdDir + "/" + entry->d_name).c_str(), &target) != 0 || !S_ISSOCK(target.st_mode)) continue;
      if (!seen.insert(target.st_ino).second) continue;
      if (!pidfd) {
        pidfd.reset(static_cast<int>(syscall(SYS_pidfd_open, std::atoi(process->d_name), 0)));
        if (!pidfd) {
          ++unreadable;
          break;
        }
      }
      UniqueFd socketFd(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), std::atoi(entry->d_name), 0)));
      if (!socketFd) continue;
      SocketState state;
      if (sockets.lookup(socketFd.get(), state.state) == 0) {
        socklen_t length = sizeof(state.cookie);
        getsockopt(socketFd.get(), SOL_SOCKET, SO_COOKIE, &state.cookie, &length);
        states.push_back(state);
      }
    }
  }
  if (skipped) *skipped = unreadable;
  return states;
}

}  // namespace bpfproxy::maps
