// Stale sockets: sockets connected to a removed backend are destroyed, the others are
// not; with the BPF socket iterators and with the netlink SOCK_DESTROY fallback. Runs in
// the TC tests' private network namespace (connect() on UDP sends nothing; the TCP
// connect's SYN goes out of br0 towards nobody).
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bpf/maps_abi.h"
#include "loader/socket_destroyer.h"
#include "loader/system_paths.h"
#include "tests/support/skip.h"
#include "tests/support/tc_test_namespace.h"

using namespace bpfproxy;

namespace {

struct Socket {
  int fd = -1;
  Socket(int type, const char* address, uint16_t port) {
    fd = socket(AF_INET, type | SOCK_NONBLOCK, 0);
    REQUIRE(fd >= 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    inet_pton(AF_INET, address, &to.sin_addr);
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    REQUIRE((rc == 0 || errno == EINPROGRESS));
  }
  ~Socket() { close(fd); }
  int error() const {
    int value = 0;
    socklen_t length = sizeof(value);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length);
    return value;
  }
};

loader::StaleBackend stale(const char* address, uint16_t port, uint8_t proto) {
  return {*IpAddress::parse(address), port, proto};
}

}  // namespace

TEST_CASE("stale sockets are destroyed, by BPF iterator and by netlink") {
  BPX_SKIP_IF_NOT_EMPTY(testing::tcTestsUnavailable());
  auto cgroup = loader::findCgroup2Mount();
  REQUIRE(cgroup);
  for (bool netlink : {false, true}) {
    CAPTURE(netlink);
    loader::SocketDestroyer destroyer(*cgroup, /*tcp=*/true, netlink);
    CHECK((destroyer.degraded().find("netlink") == std::string::npos) == !netlink);
    Socket goneUdp(SOCK_DGRAM, "10.200.0.99", 53), liveUdp(SOCK_DGRAM, "10.200.0.98", 53),
        otherPort(SOCK_DGRAM, "10.200.0.99", 54), goneTcp(SOCK_STREAM, "10.200.0.99", 53);
    auto counts = destroyer.destroyHere(
        {stale("10.200.0.99", 53, BPX_PROTO_UDP), stale("10.200.0.99", 53, BPX_PROTO_TCP)});
    CHECK(counts.errors.empty());
    CHECK(counts.udp == 1);
    CHECK(counts.tcp == 1);
    CHECK(goneUdp.error() == ECONNABORTED);
    CHECK(goneTcp.error() == ECONNABORTED);
    CHECK(liveUdp.error() == 0);
    CHECK(otherPort.error() == 0);
  }
  // TCP only when asked.
  loader::SocketDestroyer udpOnly(*cgroup, /*tcp=*/false);
  Socket tcp(SOCK_STREAM, "10.200.0.97", 80);
  CHECK(udpOnly.destroyHere({stale("10.200.0.97", 80, BPX_PROTO_TCP)}).tcp == 0);
  CHECK(tcp.error() != ECONNABORTED);
}
