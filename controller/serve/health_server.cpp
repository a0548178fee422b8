#include "controller/serve/health_server.h"

#include <cpprest/http_listener.h>

#include <stdexcept>

#include "maps/ip_address.h"

namespace bpfproxy::controller {

namespace http = web::http;
using http::experimental::listener::http_listener;

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

void HealthServer::start() {
  std::string error;
  auto url = listenUrl(bindAddress_, &error);
  if (url.empty()) throw std::runtime_error("healthz bind address " + error);
  auto listener = std::make_unique<http_listener>(utility::conversions::to_string_t(url));
  listener->support(http::methods::GET, [this](const http::http_request& request) {
    auto path = request.relative_uri().path();
    http::http_response response;
    response.headers().add("X-Content-Type-Options", "nosniff");
    if (path == "/healthz" || path == "/livez") {
      bool readiness = path == "/healthz";
      auto verdict = readiness ? endpoints_.health->healthz() : endpoints_.health->livez();
      if (readiness && endpoints_.countHealthz) endpoints_.countHealthz(verdict.code);
      if (!readiness && endpoints_.countLivez) endpoints_.countLivez(verdict.code);
      response.set_status_code(verdict.code);
      if (!verdict.reason.empty()) response.headers().add("X-Bpfproxy-Reason", verdict.reason);
      response.set_body(readiness ? ProxierHealth::healthzBody(verdict) : ProxierHealth::livezBody(verdict),
                        "application/json");
    } else if (path == "/proxyMode") {
      response.set_status_code(http::status_codes::OK);
      response.set_body("ebpf", "text/plain; charset=utf-8");
    } else if (path == "/configz") {
      response.set_status_code(http::status_codes::OK);
      response.set_body(endpoints_.configz, "application/json");
    } else {
      response.set_status_code(http::status_codes::NotFound);
      response.set_body("404 page not found\n", "text/plain; charset=utf-8");
    }
    request.reply(response).then([](pplx::task<void> done) {
      try {
        done.get();
      } catch (const std::exception&) {
        // the client went away: nothing to do
      }
    });
  });
  try {
    listener->open().wait();
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + bindAddress_ + ": " + e.what());
  }
  listener_ = std::move(listener);
}

void HealthServer::stop() {
  if (!listener_) return;
  try {
    listener_->close().wait();
  } catch (const std::exception&) {
  }
  listener_.reset();
}

}  // namespace bpfproxy::controller
