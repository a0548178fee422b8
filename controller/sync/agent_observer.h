#pragma once
// What the agent tells metrics and health about its work. Every hook has a no-op default.
#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "controller/state/cluster_store.h"
#include "controller/model/desired_state.h"
#include "loader/socket_lb_loader.h"

namespace bpfproxy::controller {

struct SyncReport {
  std::chrono::system_clock::time_point startedAt;
  std::chrono::steady_clock::duration duration{};
  size_t servicesSynced = 0;       // Services recomputed in this sync
  size_t frontendsChanged = 0;     // map entries written
  size_t frontendsRemoved = 0;
  size_t errors = 0;
  std::map<std::string, size_t> fullMaps;  // per map: frontends refused because it was full
  size_t frontendsProgrammed = 0;  // totals after the sync
  size_t backendsProgrammed = 0;
  size_t metricsRefused = 0;       // Services refused bpfproxy.io/metrics (--max-metrics-services)
  bool fullSync = false;           // the first sync after a complete list
  // For each change applied: from its trigger time to now (network programming latency).
  std::vector<std::chrono::duration<double>> programmingLatencies;
  ChangeCounters changesApplied;   // the source's change totals this sync covers
  uint64_t udpSocketsDestroyed = 0;  // connected to backends this sync removed
  uint64_t tcpSocketsDestroyed = 0;
};

class AgentObserver {
public:
  virtual ~AgentObserver() = default;
  virtual void onDatapathLoaded(const loader::LoadReport&) {}
  // What the pins held at start and the reconciler took over (0 on a fresh node).
  virtual void onAdopted(size_t /*frontends*/, size_t /*backends*/) {}
  // Something changed and a sync is now pending; `totals` are the source's change counts.
  virtual void onSyncQueued(std::chrono::system_clock::time_point, const ChangeCounters& /*totals*/) {}
  // One Service rebuilt in a sync (service null: deleted), with the frontends it now has.
  virtual void onServiceBuilt(const ServiceKey&, const Service* /*service*/,
                              const std::vector<EndpointSlice>& /*slices*/,
                              const std::vector<FrontendSpec>& /*frontends*/) {}
  virtual void onSyncApplied(const SyncReport&) {}
  virtual void onSourceError(const std::string&) {}
  // A pin of the agent's maps or links went missing from bpffs (or was replaced), and
  // whether the agent pinned it again.
  virtual void onPinFault(const std::string& /*path*/, bool /*repaired*/) {}
  // This node's eligibility (kube-proxy's nodeEligible), reported on every loop turn.
  virtual void onNodeEligible(bool /*eligible*/) {}
  // The proxier's own health, not counting the node's eligibility: what the health-check
  // node ports answer as serviceProxyHealthy.
  virtual bool proxyHealthy() const { return true; }
};

}  // namespace bpfproxy::controller
