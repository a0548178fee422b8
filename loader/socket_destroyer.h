#pragma once
// Destroys sockets connected to backends that were removed (bpf/sock_destroy.bpf.c), in
// every network namespace whose sockets the socket hooks translate: BPF socket iterators
// see only the namespace they are created in, so a worker thread enters the namespace
// (/proc/<pid>/ns/net, one per inode) of every process in the hooks' cgroup subtree (the
// cgroup root on a real node: every pod and the node itself; every namespace holding a
// socket has a process holding it) and runs the iterators there. UDP always; TCP when
// asked (a TCP client notices a dead peer by itself).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "maps/ip_address.h"

struct sock_destroy;
struct bpf_link;

namespace bpfproxy::loader {

struct StaleBackend {
  IpAddress address;
  uint16_t port = 0;  // host order
  uint8_t proto = 0;  // BPX_PROTO_* (the IANA numbers: IPPROTO_TCP, IPPROTO_UDP)
};

struct DestroyCounts {
  uint64_t udp = 0;
  uint64_t tcp = 0;
  size_t namespaces = 0;
  std::vector<std::string> errors;  // one per namespace or iterator that failed
};

class SocketDestroyer {
public:
  // Loads the iterators; on a kernel without bpf_sock_destroy (before Linux 6.5), or with
  // `netlinkOnly`, uses netlink SOCK_DESTROY instead (degraded() says why). Throws
  // LoaderError when `cgroupPath`, the cgroup v2 directory the socket hooks attach to, is
  // not under the cgroup v2 mount.
  SocketDestroyer(const std::string& cgroupPath, bool tcp, bool netlinkOnly = false);
  ~SocketDestroyer();
  SocketDestroyer(const SocketDestroyer&) = delete;
  SocketDestroyer& operator=(const SocketDestroyer&) = delete;

  DestroyCounts destroy(const std::vector<StaleBackend>& backends);
  // The same in the calling thread's network namespace only (tests).
  DestroyCounts destroyHere(const std::vector<StaleBackend>& backends);

  // "" with the BPF iterators in every namespace; else what is done instead and why.
  const std::string& degraded() const { return degraded_; }

private:
  std::vector<StaleBackend> armed(const std::vector<StaleBackend>& backends, DestroyCounts& counts);
  void disarm(const std::vector<StaleBackend>& backends);
  void sweepCurrentNamespace(const std::vector<StaleBackend>& backends, DestroyCounts& counts);
  void release();

  std::string cgroup_;  // relative to the cgroup v2 mount: "/" or "/a/b"
  bool tcp_;
  bool ownNamespaceOnly_ = false;  // no CAP_SYS_ADMIN to enter the others
  std::string degraded_;
  sock_destroy* skeleton_ = nullptr;
  ::bpf_link* udpLink_ = nullptr;
  ::bpf_link* tcpLink_ = nullptr;
};

}  // namespace bpfproxy::loader
