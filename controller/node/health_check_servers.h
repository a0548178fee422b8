#pragma once
// kube-proxy's service health checks: for each Service with externalTrafficPolicy Local,
// an HTTP server on its healthCheckNodePort that external load balancers probe. 200 when
// this node has local endpoints, 503 when not; the body names the Service:
//   {"service":{"namespace":"default","name":"web"},"localEndpoints":1,"serviceProxyHealthy":true}
// One thread serves every port with poll(); requests are tiny and answered at once.
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace bpfproxy::controller {

class HealthCheckServers {
public:
  HealthCheckServers();
  ~HealthCheckServers();
  HealthCheckServers(const HealthCheckServers&) = delete;
  HealthCheckServers& operator=(const HealthCheckServers&) = delete;

  // Serves `port` for the Service (port 0 removes it). Returns "" or why the port could
  // not be opened (it is retried at the next update).
  std::string update(const std::string& namespace_, const std::string& name, uint16_t port,
                     uint32_t localEndpoints);
  void remove(const std::string& namespace_, const std::string& name);
  size_t size() const;

  // The answer for a Service, as status code and body (for tests and the server).
  static std::pair<int, std::string> response(const std::string& namespace_, const std::string& name,
                                              uint32_t localEndpoints);

private:
  struct Entry {
    std::string namespace_, name;
    uint16_t port = 0;
    uint32_t localEndpoints = 0;
    int fd = -1;
  };
  void run();
  void serve(int client, const Entry& entry);
  void wake();

  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;  // by namespace/name
  int wakeFds_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace bpfproxy::controller
