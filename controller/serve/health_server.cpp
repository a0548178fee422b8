#include "controller/serve/health_server.h"

#include <stdexcept>


namespace bpfproxy::controller {

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
  if (auto parsed = parseBindAddress(bindAddress_); !parsed)
    throw std::runtime_error("healthz bind address " + parsed.error().message);
  auto fd = listenTcp(bindAddress_);
  if (!fd) throw std::runtime_error(fd.error().message);
  server_ = std::make_unique<HttpServer>(
      [this](const HttpRequest& request, const std::string&) { return handle(request); });
  server_->addListener(bindAddress_, std::move(fd).value());
}

void HealthServer::stop() { server_.reset(); }

}  // namespace bpfproxy::controller
