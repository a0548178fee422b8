// The agent's HTTP server under clients that misbehave: silent, oversized, never reading,
// too many. Real sockets on loopback; each check first makes sure the misbehaviour is in
// place (connections open, bytes sent), then that a well-behaved client is still answered.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "controller/node/health_check_servers.h"
#include "controller/serve/http_server.h"
#include "tests/support/require_ok.h"

using namespace bpfproxy::controller;
using bpfproxy::UniqueFd;
using namespace std::chrono_literals;

namespace {

// A listening socket on a free loopback port.
UniqueFd listenLoopback(uint16_t& port) {
  UniqueFd owner(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int fd = owner.get();
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  REQUIRE(listen(fd, 128) == 0);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  port = ntohs(address.sin_port);
  return owner;
}

int connectTo(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  return fd;
}

// Everything the server sends until it closes, or "" when nothing came in `patience`.
std::string readAll(int fd, std::chrono::milliseconds patience = 10s) {
  std::string in;
  char buffer[65536];
  for (;;) {
    pollfd readable{fd, POLLIN, 0};
    if (poll(&readable, 1, static_cast<int>(patience.count())) <= 0) return in;
    ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got <= 0) return in;
    in.append(buffer, static_cast<size_t>(got));
  }
}

std::string get(uint16_t port, const std::string& path) {
  int fd = connectTo(port);
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n";
  REQUIRE(write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
  auto answer = readAll(fd);
  close(fd);
  return answer;
}

HttpResponse hello(const HttpRequest& request, const std::string& listener) {
  return {200, "text/plain", listener + " says hello to " + request.path, {}};
}

struct Sockets {
  std::vector<int> fds;
  ~Sockets() {
    for (int fd : fds) close(fd);
  }
};

}  // namespace

TEST_CASE("http: silent clients do not stall an answer") {
  HttpServer server(hello, {8192, 60s, 64});
  uint16_t port = 0;
  server.addListener("metrics", listenLoopback(port));
  Sockets silent;
  for (int i = 0; i < 20; ++i) silent.fds.push_back(connectTo(port));  // connected, say nothing
  auto answer = get(port, "/metrics?x=1");
  CHECK(answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(answer.find("metrics says hello to /metrics") != std::string::npos);
  CHECK(server.counters().served == 1);
  CHECK(server.counters().timedOut == 0);  // the silent ones are still open
}

TEST_CASE("http: a silent client is closed at its deadline") {
  HttpServer server(hello, {8192, 200ms, 64});
  uint16_t port = 0;
  server.addListener("health", listenLoopback(port));
  Sockets silent;
  silent.fds.push_back(connectTo(port));
  CHECK(readAll(silent.fds[0]).empty());  // closed without an answer
  CHECK(server.counters().timedOut == 1);
}

TEST_CASE("http: an oversized request is refused with 431, the next one answered") {
  HttpServer server(hello, {8192, 60s, 64});
  uint16_t port = 0;
  server.addListener("health", listenLoopback(port));
  int fd = connectTo(port);
  std::string huge = "GET /healthz HTTP/1.1\r\nX-Padding: " + std::string(1 << 20, 'a');
  size_t sent = 0;
  while (sent < huge.size()) {  // the server stops reading once it has refused
    ssize_t n = send(fd, huge.data() + sent, huge.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  REQUIRE(sent > 8192);  // more than the bound really went out
  auto answer = readAll(fd);
  close(fd);
  CHECK(answer.rfind("HTTP/1.1 431 ", 0) == 0);
  CHECK(server.counters().oversized == 1);
  CHECK(get(port, "/healthz").rfind("HTTP/1.1 200 OK", 0) == 0);
}

TEST_CASE("http: a malformed request line gets 400") {
  HttpServer server(hello, {8192, 60s, 64});
  uint16_t port = 0;
  server.addListener("health", listenLoopback(port));
  int fd = connectTo(port);
  std::string junk = "HELLO\r\n\r\n";
  REQUIRE(write(fd, junk.data(), junk.size()) == static_cast<ssize_t>(junk.size()));
  CHECK(readAll(fd).rfind("HTTP/1.1 400 ", 0) == 0);
  close(fd);
  CHECK(server.counters().malformed == 1);
}

TEST_CASE("http: a client that never reads a large answer does not stall the next one") {
  std::string big(8 << 20, 'm');
  HttpServer server([&](const HttpRequest& request, const std::string&) {
    return HttpResponse{200, "text/plain", request.path == "/big" ? big : "small", {}};
  }, {8192, 60s, 64});
  uint16_t port = 0;
  server.addListener("metrics", listenLoopback(port));
  int stuck = connectTo(port);
  std::string request = "GET /big HTTP/1.1\r\n\r\n";
  REQUIRE(write(stuck, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
  for (int i = 0; i < 100 && server.counters().served == 0; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(server.counters().served == 1);  // the big answer is being sent, and not read
  auto answer = get(port, "/small");
  CHECK(answer.find("\r\n\r\nsmall") != std::string::npos);
  close(stuck);
}

TEST_CASE("http: past the connection limit the oldest connection makes room") {
  HttpServer server(hello, {8192, 60s, 4});
  uint16_t port = 0;
  server.addListener("health", listenLoopback(port));
  Sockets silent;
  for (int i = 0; i < 10; ++i) silent.fds.push_back(connectTo(port));
  CHECK(get(port, "/livez").rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(server.counters().evicted >= 7);
}

TEST_CASE("http: a healthCheckNodePort answers while another client on it is silent") {
  uint16_t port = 0;
  listenLoopback(port);  // a port that was free a moment ago (closed at once)
  HealthCheckServers servers({8192, 60s, 64});
  REQUIRE_OK(servers.update("default", "web", port, 2));
  Sockets silent;
  for (int i = 0; i < 5; ++i) silent.fds.push_back(connectTo(port));
  auto answer = get(port, "/");
  CHECK(answer.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(answer.find("X-Load-Balancing-Endpoint-Weight: 2") != std::string::npos);
  CHECK(answer.find("\"localEndpoints\": 2") != std::string::npos);
  REQUIRE_OK(servers.update("default", "web", port, 0));
  CHECK(get(port, "/").rfind("HTTP/1.1 503 Service Unavailable", 0) == 0);
}

TEST_CASE("bind addresses: host:port with an IP address, each mistake named") {
  struct Case {
    const char* address;
    const char* error;  // a part of the message; "" when accepted
  };
  const Case cases[] = {
      {"0.0.0.0:10256", ""},
      {"[::]:10249", ""},
      {"127.0.0.1:65535", ""},
      {"0.0.0.0", "is not host:port"},
      {"0.0.0.0:", "is not host:port"},
      {"::1:10256", "the host must be an IP address (IPv6 in brackets)"},
      {"localhost:10256", "the host must be an IP address"},
      {"0.0.0.0:0", "port must be 1-65535"},
      {"0.0.0.0:65536", "port must be 1-65535"},
      {"0.0.0.0:+80", "port must be 1-65535"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.address);
    auto parsed = parseBindAddress(c.address);
    CHECK(parsed.ok() == (std::string(c.error).empty()));
    if (!parsed) CHECK(parsed.error().message.find(c.error) != std::string::npos);
  }
  auto v6 = parseBindAddress("[::1]:8080");
  REQUIRE(v6);
  CHECK(v6->storage.ss_family == AF_INET6);
  CHECK(ntohs(reinterpret_cast<const sockaddr_in6*>(&v6->storage)->sin6_port) == 8080);
}
