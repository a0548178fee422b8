#include "controller/serve/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "maps/ip_address.h"

namespace bpfproxy::controller {

using Clock = std::chrono::steady_clock;

const char* httpReason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

Result<BindAddress> parseBindAddress(const std::string& bindAddress) {
  auto colon = bindAddress.rfind(':');
  if (colon == std::string::npos || colon + 1 == bindAddress.size())
    return Error{"'" + bindAddress + "' is not host:port (like 0.0.0.0:10256 or [::]:10256)"};
  std::string host = bindAddress.substr(0, colon), digits = bindAddress.substr(colon + 1);
  bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  auto address = IpAddress::parse(bracketed ? host.substr(1, host.size() - 2) : host);
  if (!address || (!address->isV4() && !bracketed))
    return Error{"'" + bindAddress + "': the host must be an IP address (IPv6 in brackets)"};
  int port = 0;
  if (digits.size() <= 5 && std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    port = std::stoi(digits);
  if (port <= 0 || port > 65535) return Error{"'" + bindAddress + "': port must be 1-65535"};
  BindAddress result;
  if (address->isV4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&result.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&in->sin_addr, address->bytes().data() + 12, 4);
    result.length = sizeof(*in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&result.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&in6->sin6_addr, address->bytes().data(), 16);
    result.length = sizeof(*in6);
  }
  return result;
}

Result<UniqueFd> listenTcp(const std::string& bindAddress) {
  auto parsed = parseBindAddress(bindAddress);
  if (!parsed) return parsed.error();
  const sockaddr_storage& storage = parsed->storage;
  UniqueFd fd(socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int on = 1;
  if (!fd || setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
      bind(fd.get(), reinterpret_cast<const sockaddr*>(&storage), parsed->length) != 0 || listen(fd.get(), 128) != 0)
    return systemError("cannot listen on " + bindAddress);
  return fd;
}

HttpServer::HttpServer(HttpHandler handler, HttpLimits limits)
    : handler_(std::move(handler)), limits_(limits) {
  int pipeFds[2];
  if (pipe2(pipeFds, O_CLOEXEC | O_NONBLOCK) != 0) return;
  wakeRead_.reset(pipeFds[0]);
  wakeWrite_.reset(pipeFds[1]);
  thread_ = std::thread([this] { run(); });
}

HttpServer::~HttpServer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake();
  if (thread_.joinable()) thread_.join();
}

void HttpServer::wake() {
  char byte = 1;
  if (wakeWrite_) (void)!write(wakeWrite_.get(), &byte, 1);
}

void HttpServer::addListener(const std::string& name, UniqueFd fd) {
  std::lock_guard lock(mutex_);
  UniqueFd& slot = listeners_[name];
  if (slot) closing_.push_back(std::move(slot));
  slot = std::move(fd);
  wake();
}

void HttpServer::removeListener(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = listeners_.find(name);
  if (it == listeners_.end()) return;
  closing_.push_back(std::move(it->second));
  listeners_.erase(it);
  wake();
}

HttpServerCounters HttpServer::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

void HttpServer::drop(size_t index) {
  connections_.erase(connections_.begin() + static_cast<std::ptrdiff_t>(index));
}

void HttpServer::accept(const std::string& listener, int fd) {
  for (int i = 0; i < 16; ++i) {  // a burst at once, bounded so listeners take turns
    UniqueFd client(accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client) return;
    if (connections_.size() >= limits_.maxConnections) {
      // The oldest connection has had the longest to say something: it goes.
      drop(0);
      std::lock_guard lock(mutex_);
      counters_.evicted++;
    }
    connections_.push_back({std::move(client), listener, Clock::now() + limits_.deadline, {}, {}, 0, false});
  }
}

void HttpServer::answer(Connection& connection, HttpResponse response) {
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " + httpReason(response.status) +
                     "\r\nContent-Type: " + response.contentType +
                     "\r\nContent-Length: " + std::to_string(response.body.size()) + "\r\n";
  for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
  connection.out = head + "Connection: close\r\n\r\n" + response.body;
  connection.answering = true;
  connection.in.clear();
}

void HttpServer::receive(Connection& connection) {
  char buffer[4096];
  ssize_t got = read(connection.fd.get(), buffer, sizeof(buffer));
  if (got <= 0) {
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    connection.deadline = Clock::time_point{};  // closed or failed: drop at once
    return;
  }
  if (connection.lingering) return;  // unread bytes would turn our close into a reset
  connection.in.append(buffer, static_cast<size_t>(got));
  auto end = connection.in.find("\r\n\r\n");
  if (end == std::string::npos) end = connection.in.find("\n\n");  // tolerate bare newlines
  if (end == std::string::npos) {
    if (connection.in.size() > limits_.maxRequestBytes) {
      {
        std::lock_guard lock(mutex_);
        counters_.oversized++;
      }
      answer(connection, {431, "text/plain; charset=utf-8", "request too large\n", {}});
    }
    return;
  }
  // "GET /path?query HTTP/1.1"
  auto lineEnd = connection.in.find_first_of("\r\n");
  std::string line = connection.in.substr(0, lineEnd);
  auto first = line.find(' '), second = line.find(' ', first + 1);
  if (end > limits_.maxRequestBytes || first == std::string::npos || second == std::string::npos ||
      line.compare(second + 1, 5, "HTTP/") != 0) {
    std::lock_guard lock(mutex_);
    (end > limits_.maxRequestBytes ? counters_.oversized : counters_.malformed)++;
    bool tooBig = end > limits_.maxRequestBytes;
    HttpResponse refusal{tooBig ? 431 : 400, "text/plain; charset=utf-8",
                         tooBig ? "request too large\n" : "malformed request\n", {}};
    answer(connection, refusal);
    return;
  }
  HttpRequest request{line.substr(0, first), line.substr(first + 1, second - first - 1)};
  if (auto query = request.path.find('?'); query != std::string::npos) request.path.resize(query);
  HttpResponse response;
  try {
    response = handler_(request, connection.listener);
  } catch (const std::exception& failure) {
    response = {500, "text/plain; charset=utf-8", std::string(failure.what()) + "\n", {}};
  }
  {
    std::lock_guard lock(mutex_);
    counters_.served++;
  }
  answer(connection, std::move(response));
}

bool HttpServer::send(Connection& connection) {
  while (connection.written < connection.out.size()) {
    ssize_t sent = ::send(connection.fd.get(), connection.out.data() + connection.written,
                          connection.out.size() - connection.written, MSG_NOSIGNAL);
    if (sent < 0) return errno == EAGAIN || errno == EINTR;
    connection.written += static_cast<size_t>(sent);
  }
  shutdown(connection.fd.get(), SHUT_WR);
  // Wait a little for the client to close: closing with its bytes unread would send a
  // reset, which can destroy the answer before the client reads it.
  connection.answering = false;
  connection.lingering = true;
  connection.deadline = std::min(connection.deadline, Clock::now() + std::chrono::seconds(1));
  return true;
}

void HttpServer::run() {
  for (;;) {
    std::map<std::string, int> listeners;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      closing_.clear();  // closes them
      for (const auto& [name, fd] : listeners_) listeners[name] = fd.get();
    }
    std::vector<pollfd> fds{{wakeRead_.get(), POLLIN, 0}};
    std::vector<std::string> names;
    for (const auto& [name, fd] : listeners) {
      fds.push_back({fd, POLLIN, 0});
      names.push_back(name);
    }
    const size_t firstConnection = fds.size();
    auto now = Clock::now();
    auto next = now + std::chrono::seconds(1);
    for (const auto& connection : connections_) {
      fds.push_back({connection.fd.get(), static_cast<short>(connection.answering ? POLLOUT : POLLIN), 0});
      next = std::min(next, connection.deadline);
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
    poll(fds.data(), fds.size(), static_cast<int>(std::clamp<long long>(wait + 1, 0, 1000)));
    if (fds[0].revents) {
      char drain[64];
      while (read(wakeRead_.get(), drain, sizeof(drain)) > 0) {
      }
    }
    // Connections first (their indexes match fds), then new ones.
    std::vector<bool> done(connections_.size(), false);
    for (size_t i = 0; i < connections_.size(); ++i) {
      auto& connection = connections_[i];
      short events = fds[firstConnection + i].revents;
      if (!connection.answering && (events & (POLLIN | POLLHUP | POLLERR))) receive(connection);
      if (connection.answering && (events & POLLOUT || connection.written == 0)) done[i] = !send(connection);
      if (!done[i] && Clock::now() >= connection.deadline) {
        done[i] = true;
        if (connection.deadline != Clock::time_point{} && !connection.lingering) {
          std::lock_guard lock(mutex_);
          counters_.timedOut++;
        }
      }
    }
    for (size_t i = connections_.size(); i-- > 0;)
      if (done[i]) drop(i);
    for (size_t i = 0; i < names.size(); ++i)
      if (fds[1 + i].revents & POLLIN) accept(names[i], fds[1 + i].fd);
  }
}

}  // namespace bpfproxy::controller
