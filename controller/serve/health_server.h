#pragma once
// The kube-proxy health port: /healthz, /livez, /proxyMode and /configz, answered the way
// kube-proxy answers them so load-balancer probes and DaemonSet checks work unchanged.
#include <functional>
#include <memory>
#include <string>

#include "controller/serve/health.h"

namespace web::http::experimental::listener {
class http_listener;
}

namespace bpfproxy::controller {

struct HealthEndpoints {
  ProxierHealth* health = nullptr;
  std::function<void(int code)> countHealthz;  // kubeproxy_proxy_healthz_total{code}
  std::function<void(int code)> countLivez;
  std::string configz;  // the effective configuration, JSON
};

// "host:port", "[v6]:port". Returns the URL cpprestsdk listens on, or "" with *error set.
std::string listenUrl(const std::string& bindAddress, std::string* error);

class HealthServer {
public:
  HealthServer(std::string bindAddress, HealthEndpoints endpoints);
  ~HealthServer();
  // Throws std::runtime_error naming the address when it cannot listen.
  void start();
  void stop();

private:
  std::string bindAddress_;
  HealthEndpoints endpoints_;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
};

}  // namespace bpfproxy::controller
