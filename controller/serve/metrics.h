#pragma once
// Prometheus metrics. kube-proxy's names and meanings, so its dashboards and alerts work
// unchanged, plus bpfproxy's own. Counters the datapath keeps are read from the BPF maps at
// scrape time (never copied per packet); entry counts come from what the agent programmed.
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/model/model.h"
#include "controller/sync/agent_observer.h"

namespace bpfproxy::controller {

// Counters of the Kubernetes API source, when that is the source in use.
struct SourceCounters {
  uint64_t watchRestarts = 0;
  uint64_t relists = 0;
  uint64_t errors = 0;
  std::map<std::string, uint64_t> errorsByReason;  // the errors by cause
  double backoffSeconds = 0;                      // the wait before the current retry
};

struct MetricsOptions {
  std::string pinDir;                           // where the maps are pinned
  std::string nodeName;                         // "local" endpoints are on this node
  std::vector<std::string> ipFamilies{"IPv4"};  // "IPv4", "IPv6": label of the sync histogram
  std::string version;
  std::function<std::optional<SourceCounters>()> sourceCounters;  // may be empty
};

// kube-proxy's bucket layouts (pkg/proxy/metrics).
std::vector<double> syncDurationBuckets();        // 1 ms .. 16 s, exponential
std::vector<double> programmingDurationBuckets();  // 0.25 s .. 5 min

class AgentMetrics : public AgentObserver {
public:
  explicit AgentMetrics(MetricsOptions options);
  ~AgentMetrics() override;

  // Both go to the exposer: the registry holds what the agent updates, the collector what
  // is read at scrape time.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
  std::shared_ptr<prometheus::Collectable> collector() const;
  std::string render() const;  // the text /metrics serves

  void countHealthz(int code);
  void countLivez(int code);

  void onDatapathLoaded(const loader::LoadReport&) override;
  void onAdopted(size_t frontends, size_t backends) override;
  void onSyncQueued(std::chrono::system_clock::time_point, const ChangeCounters& totals) override;
  void onServiceBuilt(const ServiceKey&, const Service* service, const std::vector<EndpointSlice>& slices,
                      const std::vector<FrontendSpec>& frontends) override;
  void onSyncApplied(const SyncReport&) override;
  void onSourceError(const std::string&) override;
  void onPinFault(const std::string& path, bool repaired) override;

private:
  class Collector;
  struct ServiceState {
    bool internalNoLocal = false;  // iTP Local, endpoints elsewhere, none on this node
    bool externalNoLocal = false;  // eTP Local, the same
    bool optedIn = false;
    bool invalidLbAnnotations = false;  // bpfproxy.io/lb-* could not be used
    size_t frontends = 0;
    size_t slots = 0;
    std::vector<std::pair<FrontendKey, size_t>> backends;  // per frontend, for opted-in ones
  };
  void publishChanges();
  static std::shared_ptr<Collector> makeCollector(AgentMetrics& owner);  // metrics_collector.cpp

  MetricsOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Collector> collector_;

  prometheus::Family<prometheus::Histogram>& syncDuration_;
  prometheus::Histogram& programmingDuration_;
  prometheus::Gauge& lastSync_;
  prometheus::Gauge& lastQueued_;
  prometheus::Gauge& endpointPending_;
  prometheus::Counter& endpointTotal_;
  prometheus::Gauge& servicePending_;
  prometheus::Counter& serviceTotal_;
  prometheus::Family<prometheus::Counter>& healthz_;
  prometheus::Family<prometheus::Counter>& livez_;
  prometheus::Counter& syncErrors_;
  prometheus::Counter& sourceErrors_;
  prometheus::Counter& fullSyncs_;
  prometheus::Family<prometheus::Counter>& mapFull_;
  prometheus::Family<prometheus::Counter>& pinFaults_;
  prometheus::Gauge& adoptedFrontends_;
  prometheus::Counter& frontendsWritten_;
  prometheus::Counter& frontendsRemoved_;
  prometheus::Family<prometheus::Counter>& socketsDestroyed_;

  mutable std::mutex mutex_;
  ChangeCounters latest_, applied_, published_;
  std::map<ServiceKey, ServiceState> services_;
  size_t frontendsProgrammed_ = 0;
  size_t backendsProgrammed_ = 0;
  size_t metricsRefused_ = 0;  // Services refused bpfproxy.io/metrics (--max-metrics-services)
  bool synced_ = false;
};

}  // namespace bpfproxy::controller
