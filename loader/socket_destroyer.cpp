#include "loader/socket_destroyer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "base/unique_fd.h"
#include "bpf/maps_abi.h"
#include "loader/sock_diag_destroy.h"
#include "loader/socket_lb_loader.h"
#include "loader/system_paths.h"
#include "sock_destroy.skel.h"

namespace bpfproxy::loader {

namespace fs = std::filesystem;

namespace {

std::string errnoText(int error) { return std::strerror(error < 0 ? -error : error); }

// True when the process's cgroup v2 path ("0::/a/b" in /proc/<pid>/cgroup) is `cgroup` or
// below it.
bool inCgroup(const fs::path& process, const std::string& cgroup) {
  std::ifstream file(process / "cgroup");
  std::string line;
  while (std::getline(file, line)) {
    if (line.rfind("0::", 0) != 0) continue;
    std::string path = line.substr(3);
    return cgroup == "/" || path == cgroup || path.rfind(cgroup + "/", 0) == 0;
  }
  return false;
}

// The network namespaces of the processes in `cgroup`, one open descriptor per namespace.
std::vector<UniqueFd> networkNamespaces(const std::string& cgroup) {
  std::vector<UniqueFd> fds;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!inCgroup(entry.path(), cgroup)) continue;
    UniqueFd fd(open((entry.path() / "ns/net").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) continue;  // the process ended, or is a kernel thread
    struct stat st{};
    if (fstat(fd.get(), &st) != 0 || !seen.insert({st.st_dev, st.st_ino}).second) continue;
    fds.push_back(std::move(fd));
  }
  return fds;
}

// setns(CLONE_NEWNET) into another namespace needs CAP_SYS_ADMIN (CapEff bit 21).
bool hasSysAdmin() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("CapEff:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> 21) & 1;
  return false;
}

// Runs one iterator to its end in the calling thread's namespace; records read.
int64_t runIterator(bpf_link* link) {
  UniqueFd fd(bpf_iter_create(bpf_link__fd(link)));
  if (!fd) return -errno;
  uint64_t records = 0;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd.get(), buffer, sizeof(buffer))) > 0) records += static_cast<uint64_t>(n) / sizeof(uint64_t);
  int error = n < 0 ? errno : 0;
  return error ? -error : static_cast<int64_t>(records);
}

}  // namespace

SocketDestroyer::SocketDestroyer(const std::string& cgroupPath, bool tcp, bool netlinkOnly) : tcp_(tcp) {
  auto mount = findCgroup2Mount();
  std::string path = fs::weakly_canonical(cgroupPath).string();
  if (!mount || path.rfind(*mount, 0) != 0)
    throw LoaderError("the socket hooks' cgroup " + cgroupPath + " is not under the cgroup v2 mount");
  cgroup_ = path.substr(mount->size());
  if (cgroup_.empty()) cgroup_ = "/";
  ownNamespaceOnly_ = !hasSysAdmin();
  if (ownNamespaceOnly_)
    degraded_ = "without CAP_SYS_ADMIN the agent cannot enter other network namespaces: only its own "
                "is swept (pods keep sockets to removed backends)";
  if (netlinkOnly) {
    degraded_ += (degraded_.empty() ? "" : "; ") + std::string("netlink SOCK_DESTROY asked for");
    return;
  }
  skeleton_ = sock_destroy::open_and_load();
  if (!skeleton_) {
    degraded_ += (degraded_.empty() ? "" : "; ") + std::string("the socket iterators did not load (") +
                 errnoText(errno) + "; bpf_sock_destroy needs Linux 6.5): netlink SOCK_DESTROY instead";
    return;
  }
  udpLink_ = bpf_program__attach_iter(skeleton_->progs.bpx_destroy_udp, nullptr);
  if (tcp_ && udpLink_) tcpLink_ = bpf_program__attach_iter(skeleton_->progs.bpx_destroy_tcp, nullptr);
  if (!udpLink_ || (tcp_ && !tcpLink_)) {
    degraded_ += (degraded_.empty() ? "" : "; ") + std::string("the socket iterators did not attach (") +
                 errnoText(errno) + "): netlink SOCK_DESTROY instead";
    release();
  }
}

SocketDestroyer::~SocketDestroyer() { release(); }

void SocketDestroyer::release() {
  if (tcpLink_) bpf_link__destroy(tcpLink_);
  if (udpLink_) bpf_link__destroy(udpLink_);
  tcpLink_ = udpLink_ = nullptr;
  if (skeleton_) sock_destroy::destroy(skeleton_);
  skeleton_ = nullptr;
}

namespace {

bpx_svc_key destroyKey(const StaleBackend& backend) {
  bpx_svc_key key{};
  std::memcpy(key.addr, backend.address.bytes().data(), sizeof(key.addr));
  key.port = htons(backend.port);
  key.proto = backend.proto;
  return key;
}

}  // namespace

// The backends whose sockets are destroyed, written where the iterators look for them.
std::vector<StaleBackend> SocketDestroyer::armed(const std::vector<StaleBackend>& backends,
                                                 DestroyCounts& counts) {
  std::vector<StaleBackend> wanted;
  for (const auto& backend : backends) {
    if (backend.proto != BPX_PROTO_UDP && !(backend.proto == BPX_PROTO_TCP && tcp_)) continue;
    if (skeleton_) {
      bpx_svc_key key = destroyKey(backend);
      uint32_t present = 1;
      if (bpf_map_update_elem(bpf_map__fd(skeleton_->maps.bpx_destroy), &key, &present, BPF_ANY) != 0) {
        counts.errors.push_back("bpx_destroy: " + errnoText(errno));
        continue;
      }
    }
    wanted.push_back(backend);
  }
  return wanted;
}

void SocketDestroyer::disarm(const std::vector<StaleBackend>& backends) {
  if (!skeleton_) return;
  for (const auto& backend : backends) {
    bpx_svc_key key = destroyKey(backend);
    bpf_map_delete_elem(bpf_map__fd(skeleton_->maps.bpx_destroy), &key);
  }
}

void SocketDestroyer::sweepCurrentNamespace(const std::vector<StaleBackend>& backends, DestroyCounts& counts) {
  if (!skeleton_) {
    counts.udp += sockDiagDestroy(backends, IPPROTO_UDP, counts.errors);
    if (tcp_) counts.tcp += sockDiagDestroy(backends, IPPROTO_TCP, counts.errors);
    return;
  }
  int64_t udp = runIterator(udpLink_);
  if (udp < 0) counts.errors.push_back("UDP socket iterator: " + errnoText(static_cast<int>(udp)));
  else counts.udp += static_cast<uint64_t>(udp);
  if (!tcpLink_) return;
  int64_t tcp = runIterator(tcpLink_);
  if (tcp < 0) counts.errors.push_back("TCP socket iterator: " + errnoText(static_cast<int>(tcp)));
  else counts.tcp += static_cast<uint64_t>(tcp);
}

DestroyCounts SocketDestroyer::destroyHere(const std::vector<StaleBackend>& backends) {
  DestroyCounts counts;
  auto wanted = armed(backends, counts);
  if (wanted.empty()) return counts;
  sweepCurrentNamespace(wanted, counts);
  counts.namespaces = 1;
  disarm(wanted);
  return counts;
}

DestroyCounts SocketDestroyer::destroy(const std::vector<StaleBackend>& backends) {
  if (ownNamespaceOnly_) return destroyHere(backends);
  DestroyCounts counts;
  auto wanted = armed(backends, counts);
  if (wanted.empty()) return counts;
  // setns changes only the calling thread's namespace: a thread of its own does the walk.
  std::thread worker([&] {
    UniqueFd home(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    for (const UniqueFd& fd : networkNamespaces(cgroup_)) {
      if (setns(fd.get(), CLONE_NEWNET) == 0) {
        sweepCurrentNamespace(wanted, counts);
        counts.namespaces++;
      } else {
        counts.errors.push_back("entering a network namespace: " + errnoText(errno));
      }
    }
    if (home) setns(home.get(), CLONE_NEWNET);
  });
  worker.join();
  disarm(wanted);
  return counts;
}

}  // namespace bpfproxy::loader
