#include "controller/node/health_check_servers.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace bpfproxy::controller {

namespace {

// A dual-stack listener on every address, like kube-proxy's with no nodePortAddresses.
int listenOn(uint16_t port, std::string& error) {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return -1;
  }
  int off = 0, on = 1;
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_port = htons(port);
  address.sin6_addr = in6addr_any;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || listen(fd, 64) != 0) {
    error = "port " + std::to_string(port) + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

HealthCheckServers::HealthCheckServers() {
  if (pipe2(wakeFds_, O_CLOEXEC | O_NONBLOCK) == 0) thread_ = std::thread([this] { run(); });
}

HealthCheckServers::~HealthCheckServers() {
  stopping_ = true;
  wake();
  if (thread_.joinable()) thread_.join();
  for (auto& [key, entry] : entries_)
    if (entry.fd >= 0) close(entry.fd);
  for (int fd : wakeFds_)
    if (fd >= 0) close(fd);
}

void HealthCheckServers::wake() {
  char byte = 1;
  if (wakeFds_[1] >= 0) (void)!write(wakeFds_[1], &byte, 1);
}

std::pair<int, std::string> HealthCheckServers::response(const std::string& namespace_,
                                                         const std::string& name,
                                                         uint32_t localEndpoints) {
  auto body = std::string("{\n\t\"service\": {\n\t\t\"namespace\": \"") + namespace_ +
              "\",\n\t\t\"name\": \"" + name + "\"\n\t},\n\t\"localEndpoints\": " +
              std::to_string(localEndpoints) + ",\n\t\"serviceProxyHealthy\": true\n}\n";
  return {localEndpoints > 0 ? 200 : 503, body};
}

std::string HealthCheckServers::update(const std::string& namespace_, const std::string& name,
                                       uint16_t port, uint32_t localEndpoints) {
  if (port == 0) {
    remove(namespace_, name);
    return "";
  }
  std::lock_guard lock(mutex_);
  Entry& entry = entries_[namespace_ + "/" + name];
  entry.namespace_ = namespace_;
  entry.name = name;
  entry.localEndpoints = localEndpoints;
  if (entry.fd >= 0 && entry.port == port) return "";
  if (entry.fd >= 0) close(entry.fd);
  entry.port = port;
  std::string error;
  entry.fd = listenOn(port, error);
  wake();
  return error.empty() ? "" : "health check server for " + namespace_ + "/" + name + ": " + error;
}

void HealthCheckServers::remove(const std::string& namespace_, const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(namespace_ + "/" + name);
  if (it == entries_.end()) return;
  if (it->second.fd >= 0) close(it->second.fd);
  entries_.erase(it);
  wake();
}

size_t HealthCheckServers::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void HealthCheckServers::serve(int client, const Entry& entry) {
  // The request is not parsed: kube-proxy answers every path and method the same.
  pollfd readable{client, POLLIN, 0};
  char buffer[2048];
  if (poll(&readable, 1, 1000) > 0) (void)!read(client, buffer, sizeof(buffer));
  auto [status, body] = response(entry.namespace_, entry.name, entry.localEndpoints);
  std::string reply = "HTTP/1.1 " + std::to_string(status) +
                      (status == 200 ? " OK" : " Service Unavailable") +
                      "\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
                      "X-Load-Balancing-Endpoint-Weight: " + std::to_string(entry.localEndpoints) +
                      "\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\nConnection: close\r\n\r\n" + body;
  (void)!write(client, reply.data(), reply.size());
  close(client);
}

void HealthCheckServers::run() {
  while (!stopping_) {
    std::vector<pollfd> fds{{wakeFds_[0], POLLIN, 0}};
    std::vector<std::string> keys{""};
    {
      std::lock_guard lock(mutex_);
      for (const auto& [key, entry] : entries_) {
        if (entry.fd < 0) continue;
        fds.push_back({entry.fd, POLLIN, 0});
        keys.push_back(key);
      }
    }
    if (poll(fds.data(), fds.size(), 1000) <= 0) continue;
    if (fds[0].revents) {
      char drain[64];
      while (read(wakeFds_[0], drain, sizeof(drain)) > 0) {
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      Entry copy;
      int client = -1;
      {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(keys[i]);
        if (it == entries_.end() || it->second.fd != fds[i].fd) continue;
        client = accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
        copy = it->second;
      }
      if (client >= 0) serve(client, copy);
    }
  }
}

}  // namespace bpfproxy::controller
