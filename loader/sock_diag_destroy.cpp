#include "loader/sock_diag_destroy.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"

namespace bpfproxy::loader {

namespace {

struct Request {
  nlmsghdr header;
  inet_diag_req_v2 diag;
};

Request request(uint16_t type, uint16_t flags, uint8_t family, uint8_t proto) {
  Request r{};
  r.header.nlmsg_len = sizeof(r);
  r.header.nlmsg_type = type;
  r.header.nlmsg_flags = flags;
  r.diag.sdiag_family = family;
  r.diag.sdiag_protocol = proto;
  r.diag.idiag_states = ~0u;
  return r;
}

IpAddress peerOf(const inet_diag_msg& message) {
  if (message.idiag_family == AF_INET) return IpAddress::fromV4(message.id.idiag_dst[0]);
  std::array<uint8_t, 16> bytes;
  std::memcpy(bytes.data(), message.id.idiag_dst, 16);
  return IpAddress(bytes);
}

// Lists the sockets of one family and protocol whose peer is a target.
int dump(int fd, uint8_t family, uint8_t proto, const std::vector<StaleBackend>& targets,
         std::vector<inet_diag_sockid>& matches) {
  Request list = request(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, family, proto);
  if (send(fd, &list, sizeof(list), 0) < 0) return -errno;
  alignas(nlmsghdr) char buffer[32768];
  for (;;) {
    int n = static_cast<int>(recv(fd, buffer, sizeof(buffer), 0));
    if (n < 0) return -errno;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == NLMSG_ERROR) return reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
      const auto* message = reinterpret_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      uint16_t port = ntohs(message->id.idiag_dport);
      if (!port) continue;
      IpAddress peer = peerOf(*message);
      bool stale = std::any_of(targets.begin(), targets.end(), [&](const StaleBackend& t) {
        return t.proto == proto && t.port == port && t.address == peer;
      });
      if (stale) matches.push_back(message->id);
    }
  }
}

int destroyOne(int fd, uint8_t family, uint8_t proto, const inet_diag_sockid& id) {
  Request destroy = request(SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, family, proto);
  destroy.diag.id = id;
  if (send(fd, &destroy, sizeof(destroy), 0) < 0) return -errno;
  alignas(nlmsghdr) char buffer[1024];
  int n = static_cast<int>(recv(fd, buffer, sizeof(buffer), 0));
  if (n < 0) return -errno;
  auto* h = reinterpret_cast<nlmsghdr*>(buffer);
  if (!NLMSG_OK(h, n) || h->nlmsg_type != NLMSG_ERROR) return -EPROTO;
  return reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
}

}  // namespace

uint64_t sockDiagDestroy(const std::vector<StaleBackend>& targets, uint8_t proto,
                         std::vector<std::string>& errors) {
  UniqueFd owner(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  const int fd = owner.get();
  if (!owner) {
    errors.push_back(std::string("sock_diag socket: ") + std::strerror(errno));
    return 0;
  }
  uint64_t destroyed = 0;
  for (uint8_t family : {uint8_t(AF_INET), uint8_t(AF_INET6)}) {
    std::vector<inet_diag_sockid> matches;
    if (int rc = dump(fd, family, proto, targets, matches); rc != 0) {
      errors.push_back(std::string("sock_diag dump: ") + std::strerror(-rc));
      continue;
    }
    for (const auto& id : matches) {
      int rc = destroyOne(fd, family, proto, id);
      if (rc == 0) destroyed++;
      else if (rc != -ENOENT) errors.push_back(std::string("SOCK_DESTROY: ") + std::strerror(-rc));
    }
  }
  return destroyed;
}

}  // namespace bpfproxy::loader
