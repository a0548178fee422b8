#include "controller/node/health_check_servers.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bpfproxy::controller {

namespace {

// A dual-stack listener on every address, like kube-proxy's with no nodePortAddresses.
Result<UniqueFd> listenOn(uint16_t port) {
  UniqueFd fd(socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return Error{std::strerror(errno), errno};
  int off = 0, on = 1;
  setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_port = htons(port);
  address.sin6_addr = in6addr_any;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || listen(fd.get(), 64) != 0)
    return systemError("port " + std::to_string(port));
  return fd;
}

}  // namespace

HealthCheckServers::HealthCheckServers(HttpLimits limits, std::function<bool()> proxyHealthy)
    : proxyHealthy_(std::move(proxyHealthy)),
      server_(std::make_unique<HttpServer>(
          [this](const HttpRequest&, const std::string& key) { return serve(key); }, limits)) {}

HealthCheckServers::~HealthCheckServers() { server_.reset(); }

std::pair<int, std::string> HealthCheckServers::response(const std::string& namespace_,
                                                         const std::string& name,
                                                         uint32_t localEndpoints, bool proxyHealthy) {
  auto body = std::string("{\n\t\"service\": {\n\t\t\"namespace\": \"") + namespace_ +
              "\",\n\t\t\"name\": \"" + name + "\"\n\t},\n\t\"localEndpoints\": " +
              std::to_string(localEndpoints) + ",\n\t\"serviceProxyHealthy\": " + (proxyHealthy ? "true" : "false") + "\n}\n";
  return {localEndpoints > 0 && proxyHealthy ? 200 : 503, body};
}

Status HealthCheckServers::update(const std::string& namespace_, const std::string& name,
                                  uint16_t port, uint32_t localEndpoints) {
  if (port == 0) {
    remove(namespace_, name);
    return {};
  }
  std::lock_guard lock(mutex_);
  const std::string key = namespace_ + "/" + name;
  Entry& entry = entries_[key];
  entry.namespace_ = namespace_;
  entry.name = name;
  entry.localEndpoints = localEndpoints;
  if (entry.listening && entry.port == port) return {};
  if (entry.listening) server_->removeListener(key);
  entry.port = port;
  auto fd = listenOn(port);
  entry.listening = fd.ok();
  if (!fd)
    return Error{"health check server for " + namespace_ + "/" + name + ": " + fd.error().message, fd.error().code};
  server_->addListener(key, std::move(fd).value());
  return {};
}

void HealthCheckServers::remove(const std::string& namespace_, const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(namespace_ + "/" + name);
  if (it == entries_.end()) return;
  if (it->second.listening) server_->removeListener(it->first);
  entries_.erase(it);
}

size_t HealthCheckServers::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

// The request is not looked at: kube-proxy answers every path and method the same.
HttpResponse HealthCheckServers::serve(const std::string& key) {
  Entry entry;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return {404, "text/plain; charset=utf-8", "404 page not found\n", {}};
    entry = it->second;
  }
  auto [status, body] = response(entry.namespace_, entry.name, entry.localEndpoints,
                                 !proxyHealthy_ || proxyHealthy_());
  return {status, "application/json", body,
          {{"X-Content-Type-Options", "nosniff"},
           {"X-Load-Balancing-Endpoint-Weight", std::to_string(entry.localEndpoints)}}};
}

}  // namespace bpfproxy::controller
