#include "controller/node/netns_addresses.h"

#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

#include "base/unique_fd.h"

namespace bpfproxy::controller {

uint64_t netnsCookie() {
  uint64_t cookie = 0;
  socklen_t length = sizeof(cookie);
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd || getsockopt(fd.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &length) != 0) return 0;
  return cookie;
}

namespace {

// The namespace at `path`, read from inside it; nullopt when it is gone or cannot be entered.
std::optional<NetnsEntry> readNamespace(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  NetnsEntry result;
  bpx_netns_addr& out = result.addresses;
  bool ok = false;
  // setns moves only the calling thread: a thread of its own, gone afterwards.
  std::thread([&] {
    if (setns(fd.get(), CLONE_NEWNET) != 0) return;
    result.cookie = netnsCookie();
    ok = result.cookie != 0;
    ifaddrs* list = nullptr;
    if (!ok || getifaddrs(&list) != 0) return;
    bool v4 = false, v6 = false;
    for (ifaddrs* entry = list; entry; entry = entry->ifa_next) {
      if (!entry->ifa_addr) continue;
      if (entry->ifa_addr->sa_family == AF_INET && !v4) {
        auto* in = &reinterpret_cast<sockaddr_in*>(entry->ifa_addr)->sin_addr;
        if ((ntohl(in->s_addr) >> 24) == 127) continue;
        out.v4[10] = out.v4[11] = 0xff;
        std::memcpy(&out.v4[12], in, 4);
        v4 = true;
      } else if (entry->ifa_addr->sa_family == AF_INET6 && !v6) {
        auto* in6 = &reinterpret_cast<sockaddr_in6*>(entry->ifa_addr)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(in6) || IN6_IS_ADDR_LINKLOCAL(in6)) continue;
        std::memcpy(out.v6, in6, 16);
        v6 = true;
      }
    }
    freeifaddrs(list);
    result.hasAddress = v4 || v6;
  }).join();
  if (!ok) return std::nullopt;
  return result;
}

void collect(const std::string& dir, bool perProcess, std::map<std::pair<dev_t, ino_t>, std::string>& found) {
  DIR* listing = opendir(dir.c_str());
  if (!listing) return;
  while (dirent* entry = readdir(listing)) {
    if (perProcess && !std::isdigit(static_cast<unsigned char>(entry->d_name[0]))) continue;
    if (entry->d_name[0] == '.') continue;
    std::string path = dir + "/" + entry->d_name + (perProcess ? "/ns/net" : "");
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) found.emplace(std::make_pair(st.st_dev, st.st_ino), path);
  }
  closedir(listing);
}

}  // namespace

Status NetnsAddresses::refresh() {
  std::map<std::pair<dev_t, ino_t>, std::string> found;
  collect("/run/netns", false, found);
  collect("/proc", true, found);
  Status result;
  for (const auto& [id, path] : found) {
    auto it = known_.find(id);
    if (it != known_.end() && it->second.hasAddress) continue;
    auto read = readNamespace(path);
    if (!read) continue;  // gone meanwhile
    const NetnsEntry& entry = known_[id] = *read;
    if (!entry.hasAddress || entry.cookie == ownCookie_) continue;
    if (int rc = map_.update(entry.cookie, entry.addresses); rc != 0 && result.ok())
      result = systemError("writing bpx_nsaddr", -rc);
  }
  for (auto it = known_.begin(); it != known_.end();) {
    if (found.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.hasAddress) map_.erase(it->second.cookie);
    it = known_.erase(it);
  }
  if (firstPass_) {  // what an earlier agent wrote for namespaces that are gone
    std::set<uint64_t> live;
    for (const auto& [id, entry] : known_) live.insert(entry.cookie);
    std::vector<uint64_t> stale;
    map_.forEach([&](const uint64_t& cookie, const bpx_netns_addr&) {
      if (!live.count(cookie)) stale.push_back(cookie);
      return true;
    });
    for (uint64_t cookie : stale) map_.erase(cookie);
    firstPass_ = false;
  }
  return result;
}

}  // namespace bpfproxy::controller
