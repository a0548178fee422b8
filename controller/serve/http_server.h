#pragma once
// The HTTP server of the agent's own ports: metrics, health, and the healthCheckNodePorts.
// One thread and poll(); every connection is non-blocking and has a deadline, and a request
// is bounded in size. A client that connects and says nothing, sends too much, or never
// reads its answer holds one connection until its deadline and never delays another client.
// Answers close the connection (no keep-alive): probes and scrapes are one request each.
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace bpfproxy::controller {

struct HttpRequest {
  std::string method;  // "GET"
  std::string path;    // "/healthz", without the query
};

struct HttpResponse {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // more headers
};

struct HttpLimits {
  size_t maxRequestBytes = 8192;                 // request line and headers; more: 431
  std::chrono::milliseconds deadline{5000};      // from accept to the last byte written
  size_t maxConnections = 64;                    // more: the oldest connection is dropped
};

// What the server has turned away, for metrics and tests.
struct HttpServerCounters {
  uint64_t served = 0;
  uint64_t timedOut = 0;   // deadline passed before the request was complete or answered
  uint64_t oversized = 0;  // answered 431
  uint64_t malformed = 0;  // answered 400
  uint64_t evicted = 0;    // dropped for a newer connection
};

// `listener` is the name the listener was added under.
using HttpHandler = std::function<HttpResponse(const HttpRequest&, const std::string& listener)>;

class HttpServer {
public:
  explicit HttpServer(HttpHandler handler, HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves a listening socket (the server owns it from now on) under `name`, replacing
  // the one of that name.
  void addListener(const std::string& name, UniqueFd fd);
  void removeListener(const std::string& name);
  HttpServerCounters counters() const;

private:
  struct Connection {
    UniqueFd fd;
    std::string listener;
    std::chrono::steady_clock::time_point deadline;
    std::string in;
    std::string out;
    size_t written = 0;
    bool answering = false;
    bool lingering = false;  // answered: reading what the client still sends until it closes
  };
  void run();
  void wake();
  void accept(const std::string& listener, int fd);
  void receive(Connection& connection);
  void answer(Connection& connection, HttpResponse response);
  bool send(Connection& connection);  // false when done or failed
  void drop(size_t index);

  HttpHandler handler_;
  HttpLimits limits_;
  mutable std::mutex mutex_;
  std::map<std::string, UniqueFd> listeners_;  // guarded by mutex_; the thread polls their numbers
  std::vector<UniqueFd> closing_;              // listeners replaced or removed, closed by the thread
  HttpServerCounters counters_;           // guarded by mutex_
  std::vector<Connection> connections_;   // the thread's own
  UniqueFd wakeRead_, wakeWrite_;  // a pipe: wake() makes poll() return
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

// "host:port" with an IP address ("0.0.0.0:10256", "[::]:10256"; IPv6 in brackets) as a
// socket address, or what is wrong with it.
struct BindAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};
Result<BindAddress> parseBindAddress(const std::string& bindAddress);

// A listening TCP socket on "host:port" ("0.0.0.0:10256", "[::]:10256"), or why the address
// is not one or cannot be bound.
Result<UniqueFd> listenTcp(const std::string& bindAddress);

// The reason phrase of the status codes the agent answers with.
const char* httpReason(int status);

}  // namespace bpfproxy::controller
