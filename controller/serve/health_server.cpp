#include "controller/serve/health_server.h"

#include <stdexcept>

#include "maps/ip_address.h"

namespace bpfproxy::controller {

std::string listenUrl(const std::string& bindAddress, std::string* error) {
  auto colon = bindAddress.rfind(':');
  if (colon == std::string::npos || colon + 1 == bindAddress.size()) {
    *error = "'" + bindAddress + "' is not host:port (like 0.0.0.0:10256 or [::]:10256)";
    return "";
  }
  std::string host = bindAddress.substr(0, colon), port = bindAddress.substr(colon + 1);
  bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  std::string bare = bracketed ? host.substr(1, host.size() - 2) : host;
  auto address = IpAddress::parse(bare);
  if (!address || (!address->isV4() && !bracketed)) {
    *error = "'" + bindAddress + "': the host must be an IP address (IPv6 in brackets)";
    return "";
  }
  int number = 0;
  try {
    size_t used = 0;
    number = std::stoi(port, &used);
    if (used != port.size()) number = -1;
  } catch (const std::exception&) {
    number = -1;
  }
  if (number <= 0 || number > 65535) {
    *error = "'" + bindAddress + "': port must be 1-65535";
    return "";
  }
  return "http://" + host + ":" + std::to_string(number) + "/";
}

HealthServer::HealthServer(std::string bindAddress, HealthEndpoints endpoints)
    : bindAddress_(std::move(bindAddress)), endpoints_(std::move(endpoints)) {}

HealthServer::~HealthServer() { stop(); }

HttpResponse HealthServer::handle(const HttpRequest& request) const {
  const auto& path = request.path;
  HttpResponse response;
  response.headers.push_back({"X-Content-Type-Options", "nosniff"});
  if (path == "/healthz" || path == "/livez") {
    bool readiness = path == "/healthz";
    auto verdict = readiness ? endpoints_.health->healthz() : endpoints_.health->livez();
    if (readiness && endpoints_.countHealthz) endpoints_.countHealthz(verdict.code);
    if (!readiness && endpoints_.countLivez) endpoints_.countLivez(verdict.code);
    response.status = verdict.code;
    if (!verdict.reason.empty()) response.headers.push_back({"X-Bpfproxy-Reason", verdict.reason});
    response.contentType = "application/json";
    response.body = readiness ? ProxierHealth::healthzBody(verdict) : ProxierHealth::livezBody(verdict);
  } else if (path == "/proxyMode") {
    response.body = "ebpf";
  } else if (path == "/configz") {
    response.contentType = "application/json";
    response.body = endpoints_.configz;
  } else {
    response.status = 404;
    response.body = "404 page not found\n";
  }
  return response;
}

void HealthServer::start() {
  std::string error;
  if (listenUrl(bindAddress_, &error).empty()) throw std::runtime_error("healthz bind address " + error);
  int fd = listenTcp(bindAddress_, &error);
  if (fd < 0) throw std::runtime_error(error);
  server_ = std::make_unique<HttpServer>(
      [this](const HttpRequest& request, const std::string&) { return handle(request); });
  server_->addListener(bindAddress_, fd);
}

void HealthServer::stop() { server_.reset(); }

}  // namespace bpfproxy::controller
