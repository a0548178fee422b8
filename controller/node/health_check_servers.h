#pragma once
// kube-proxy's service health checks: for each Service with externalTrafficPolicy Local,
// an HTTP server on its healthCheckNodePort that external load balancers probe. 200 when
// this node has local endpoints, 503 when not; the body names the Service:
//   {"service":{"namespace":"default","name":"web"},"localEndpoints":1,"serviceProxyHealthy":true}
// One HttpServer serves every port: a silent or oversized client cannot stall the others.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/result.h"
#include "controller/serve/http_server.h"

namespace bpfproxy::controller {

class HealthCheckServers {
public:
  // proxyHealthy: asked on every request (serviceProxyHealthy); empty means always healthy.
  explicit HealthCheckServers(HttpLimits limits = {}, std::function<bool()> proxyHealthy = {});
  ~HealthCheckServers();
  HealthCheckServers(const HealthCheckServers&) = delete;
  HealthCheckServers& operator=(const HealthCheckServers&) = delete;

  // Serves `port` for the Service (port 0 removes it). The error says why the port could
  // not be opened (it is retried at the next update).
  Status update(const std::string& namespace_, const std::string& name, uint16_t port,
                     uint32_t localEndpoints);
  void remove(const std::string& namespace_, const std::string& name);
  size_t size() const;
  HttpServerCounters counters() const { return server_->counters(); }

  // The answer for a Service, as status code and body (for tests and the server).
  static std::pair<int, std::string> response(const std::string& namespace_, const std::string& name,
                                              uint32_t localEndpoints, bool proxyHealthy);

private:
  struct Entry {
    std::string namespace_, name;
    uint16_t port = 0;
    uint32_t localEndpoints = 0;
    bool listening = false;
  };
  HttpResponse serve(const std::string& key);

  std::function<bool()> proxyHealthy_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;  // by namespace/name, also the listener's name
  std::unique_ptr<HttpServer> server_;    // last: stopped before entries_ goes
};

}  // namespace bpfproxy::controller
