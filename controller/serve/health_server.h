#pragma once
// The kube-proxy health port: /healthz, /livez, /proxyMode and /configz, answered the way
// kube-proxy answers them so load-balancer probes and DaemonSet checks work unchanged.
#include <functional>
#include <memory>
#include <string>

#include "controller/serve/health.h"
#include "controller/serve/http_server.h"

namespace bpfproxy::controller {

struct HealthEndpoints {
  ProxierHealth* health = nullptr;
  std::function<void(int code)> countHealthz;  // kubeproxy_proxy_healthz_total{code}
  std::function<void(int code)> countLivez;
  std::string configz;  // the effective configuration, JSON
};

class HealthServer {
public:
  HealthServer(std::string bindAddress, HealthEndpoints endpoints);
  ~HealthServer();
  // Throws std::runtime_error naming the address when it cannot listen.
  void start();
  void stop();
  // The answer to one request (the server's handler; tests call it directly).
  HttpResponse handle(const HttpRequest& request) const;

private:
  std::string bindAddress_;
  HealthEndpoints endpoints_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace bpfproxy::controller
