#pragma once
// The agent: loads the datapath, adopts what the pins hold, then keeps the maps in step
// with the source. Stopping it leaves everything programmed: the datapath runs without it.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/model/model.h"
#include "controller/source/source.h"
#include "controller/node/tc_agent.h"
#include "controller/sync/reconciler.h"
#include "loader/socket_lb_loader.h"

namespace bpfproxy::controller {

struct AgentOptions {
  std::string pinDir;
  std::string cgroupPath;
  std::string nodeName;
  ModelConfig model;
  loader::MapSizes mapSizes;
  std::chrono::milliseconds minSyncPeriod{1000};
  // A Service whose apply failed (a full map, a conflicting frontend) is retried this often.
  std::chrono::milliseconds retryPeriod{10000};
  // How often the pins in bpffs are checked, and pinned again when someone removed them.
  std::chrono::milliseconds pinCheckPeriod{1000};
  // The Service the agent itself reaches the API server through: never programmed with no
  // backends while it has some, or the agent would cut itself off for good.
  std::optional<ServiceKey> protectedService;
  // Sockets connected to removed backends are destroyed: UDP always, TCP only when set.
  bool destroyTcpSockets = false;
  // Services annotated bpfproxy.io/metrics counted per backend at most (the rest refused).
  uint32_t maxMetricsServices = kDefaultMaxMetricsServices;
  // The per-packet datapath (NodePorts, external and load-balancer IPs, bypassing pods).
  TcAgentOptions tc;
};

class AgentObserver;  // metrics and health hook in here (issue 5); may be null

// Runs until `stop` becomes true. Returns the process exit code.
int runAgent(const AgentOptions& options, std::shared_ptr<Source> source,
             const std::atomic<bool>& stop, AgentObserver* observer = nullptr);

}  // namespace bpfproxy::controller
