// The per-socket state (socket-local storage) under the real cgroup hooks: what the XDP
// harness cannot show. The test process enters a network namespace of its own and a test
// cgroup the programs are attached to; its sockets reach a ClusterIP whose backend is a
// server on this namespace's loopback, and the reader the CLI uses finds their state.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>

#include "controller/sync/reconciler.h"
#include "loader/socket_lb_loader.h"
#include "maps/socket_states.h"
#include "loader/system_paths.h"
#include "maps/datapath_maps.h"
#include "maps/bpf_datapath_writer.h"
#include "tests/support/frontend_specs.h"
#include "tests/support/require_ok.h"
#include "tests/support/skip.h"
#include "tests/support/tc_test_namespace.h"
#include "tests/support/test_bpffs.h"
#include "tests/support/test_cgroup.h"

using namespace bpfproxy;

namespace {


// Moves this process into `cgroup` and back to where it was when destroyed.
class InCgroup {
public:
  explicit InCgroup(const std::string& cgroup) {
    std::ifstream self("/proc/self/cgroup");
    std::string line;
    while (std::getline(self, line))
      if (line.rfind("0::", 0) == 0) home_ = *loader::findCgroup2Mount() + line.substr(3);
    REQUIRE(!home_.empty());
    std::ofstream(cgroup + "/cgroup.procs") << "0\n";
  }
  ~InCgroup() { std::ofstream(home_ + "/cgroup.procs") << "0\n"; }

private:
  std::string home_;
};

int boundSocket(int type, uint16_t& port) {
  int fd = socket(AF_INET, type, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  socklen_t length = sizeof(address);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  port = ntohs(address.sin_port);
  return fd;
}

sockaddr_in endpoint(const char* address, uint16_t port) {
  sockaddr_in result{};
  result.sin_family = AF_INET;
  result.sin_port = htons(port);
  inet_pton(AF_INET, address, &result.sin_addr);
  return result;
}

std::string text(const sockaddr_in& address) {
  char buffer[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address.sin_addr, buffer, sizeof(buffer));
  return std::string(buffer) + ":" + std::to_string(ntohs(address.sin_port));
}

uint64_t cookieOf(int fd) {
  uint64_t cookie = 0;
  socklen_t length = sizeof(cookie);
  REQUIRE(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &length) == 0);
  return cookie;
}

std::optional<maps::SocketState> stateOf(const maps::DatapathMaps& maps, uint64_t cookie) {
  for (const auto& state : maps::readSocketStates(maps.sockets))
    if (state.cookie == cookie) return state;
  return std::nullopt;
}

struct Datapath {
  testing::TestBpffsDir pins;
  testing::TestCgroup cgroup;
  maps::DatapathMaps maps;
  std::unique_ptr<maps::BpfDatapathWriter> writer;
  std::unique_ptr<controller::Reconciler> reconciler;

  Datapath() {
    if (std::system("ip link set lo up >/dev/null 2>&1") != 0) MESSAGE("could not bring lo up");
    loader::SocketLbOptions options{pins.path(), cgroup.path(), {}};
    options.mapSizes = {1024, 1024, 1024, 1024};
    loader::loadSocketLb(options);
    REQUIRE_OK(maps.open(pins.path()));
    writer = std::make_unique<maps::BpfDatapathWriter>(maps);
    reconciler = std::make_unique<controller::Reconciler>(*writer, 1024, 4096);
  }
  ~Datapath() { loader::cleanupPins(pins.path()); }

  uint32_t program(const char* vip, uint16_t port, uint8_t proto, uint16_t backendPort) {
    auto frontend = testing::frontendSpec(vip, port, proto, BPX_SVC_F_CLUSTER_IP,
                                          {testing::backendSpec("127.0.0.1", backendPort, proto)});
    auto result = reconciler->apply({"default", std::string("svc-") + std::to_string(port)}, {frontend});
    REQUIRE(result.errors.empty());
    bpx_svc_key key{};
    std::memcpy(key.addr, testing::ip(vip).bytes().data(), 16);
    key.port = htons(port);
    key.proto = proto;
    bpx_svc_value value{};
    REQUIRE(maps.services.lookup(key, value) == 0);
    return value.svc_id;
  }
};

}  // namespace

TEST_CASE("socket state: an unconnected UDP socket's backend and reverse translation live with the socket") {
  BPX_SKIP_IF_NOT_EMPTY(testing::tcTestsUnavailable());
  Datapath d;
  uint16_t serverPort = 0;
  int server = boundSocket(SOCK_DGRAM, serverPort);
  uint32_t svcId = d.program("10.32.0.10", 53, BPX_PROTO_UDP, serverPort);

  InCgroup inside(d.cgroup.path());
  int client = socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(client >= 0);
  timeval timeout{2, 0};
  setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(server, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  auto vip = endpoint("10.32.0.10", 53);
  REQUIRE(sendto(client, "ping", 4, 0, reinterpret_cast<sockaddr*>(&vip), sizeof(vip)) == 4);

  char buffer[16];
  sockaddr_in from{};
  socklen_t length = sizeof(from);
  REQUIRE(recvfrom(server, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&from), &length) == 4);
  REQUIRE(sendto(server, "pong", 4, 0, reinterpret_cast<sockaddr*>(&from), length) == 4);
  length = sizeof(from);
  REQUIRE(recvfrom(client, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&from), &length) == 4);
  CHECK(text(from) == "10.32.0.10:53");  // recvmsg4 showed the ClusterIP

  uint64_t cookie = cookieOf(client);
  auto state = stateOf(d.maps, cookie);
  REQUIRE(state);
  CHECK(state->state.used == 1);
  CHECK(state->state.sticky == 1);
  const auto& peer = state->state.peer[0];
  CHECK(peer.svc_id == svcId);
  CHECK(ntohs(peer.backend_port) == serverPort);
  CHECK(ntohs(peer.frontend_port) == 53);
  CHECK(peer.backend32[3] == htonl(INADDR_LOOPBACK));

  // A second send keeps the backend without a second peer.
  REQUIRE(sendto(client, "ping", 4, 0, reinterpret_cast<sockaddr*>(&vip), sizeof(vip)) == 4);
  CHECK(stateOf(d.maps, cookie)->state.used == 1);

  close(client);

  // A socket that never reaches a Service gets no state at all.
  int other = socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(other >= 0);
  auto direct = endpoint("127.0.0.1", serverPort);
  REQUIRE(sendto(other, "ping", 4, 0, reinterpret_cast<sockaddr*>(&direct), sizeof(direct)) == 4);
  bpx_sock_state none{};
  CHECK(bpf_map_lookup_elem(d.maps.sockets.fd(), &other, &none) == -ENOENT);
  close(other);
  close(server);
}

TEST_CASE("socket state: a TCP connection sees its ClusterIP as its peer and is not listed as sticky") {
  BPX_SKIP_IF_NOT_EMPTY(testing::tcTestsUnavailable());
  Datapath d;
  uint16_t serverPort = 0;
  int listener = boundSocket(SOCK_STREAM, serverPort);
  REQUIRE(listen(listener, 4) == 0);
  d.program("10.32.0.11", 80, BPX_PROTO_TCP, serverPort);

  InCgroup inside(d.cgroup.path());
  int client = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(client >= 0);
  auto vip = endpoint("10.32.0.11", 80);
  REQUIRE(connect(client, reinterpret_cast<sockaddr*>(&vip), sizeof(vip)) == 0);
  sockaddr_in peer{};
  socklen_t length = sizeof(peer);
  REQUIRE(getpeername(client, reinterpret_cast<sockaddr*>(&peer), &length) == 0);
  CHECK(text(peer) == "10.32.0.11:80");  // getpeername4 showed the ClusterIP

  auto state = stateOf(d.maps, cookieOf(client));
  REQUIRE(state);
  CHECK(state->state.used == 1);
  CHECK(state->state.sticky == 0);
  size_t sticky = 0;
  maps::forEachStickyPeer(state->state, [&](const bpx_sock_peer&) { ++sticky; });
  CHECK(sticky == 0);
  close(client);
  close(listener);
}
