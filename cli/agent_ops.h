#pragma once
// The agent's operability: --config, the metrics port and the health port. Kept apart from
// agent_command.cpp so the agent's own flags and these evolve independently.
#include <CLI/CLI.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "cli/agent_config.h"
#include "controller/sync/agent.h"
#include "controller/sync/agent_observer.h"
#include "controller/serve/health.h"
#include "controller/serve/metrics.h"

namespace bpfproxy::controller {
class HealthServer;
class HttpServer;
}

namespace bpfproxy::cli {

struct OpsFlags {
  std::string configFile;
  std::string metricsBindAddress = "127.0.0.1:10249";
  std::string healthzBindAddress = "0.0.0.0:10256";
  std::string syncPeriod = "30s";  // kube-proxy's; health fails after 2x with a sync pending
  LoadedConfig config;             // what --config held
};

void addOpsFlags(CLI::App& cmd, OpsFlags& flags);

// The Kubernetes API source's counters for metrics; empty for other sources. The function
// holds the source, so a scrape during shutdown never reads a destroyed one.
std::function<std::optional<controller::SourceCounters>()> sourceCountersOf(
    const std::shared_ptr<controller::Source>& source);

// Reads --config (when given) into the command's options; flags on the command line win.
// Run first in the command's callback. The error names the file and the key.
Status loadConfigFile(CLI::App& cmd, OpsFlags& flags);

// Metrics and health for one agent run; it is the observer the agent reports to.
class AgentOps : public controller::AgentObserver {
public:
  AgentOps(const OpsFlags& flags, const controller::AgentOptions& options, const CLI::App& cmd);
  ~AgentOps() override;

  // Checks the addresses, then serves. A port that is busy is retried every 5 s, as
  // kube-proxy does, without stopping the agent. The error names the flag.
  Status start(const std::function<std::optional<controller::SourceCounters>()>& sourceCounters = {});

  void onDatapathLoaded(const loader::LoadReport& report) override;
  void onAdopted(size_t frontends, size_t backends) override;
  void onSyncQueued(std::chrono::system_clock::time_point at, const controller::ChangeCounters& totals) override;
  void onServiceBuilt(const controller::ServiceKey& key, const controller::Service* service,
                      const std::vector<controller::EndpointSlice>& slices,
                      const std::vector<controller::FrontendSpec>& frontends) override;
  void onSyncApplied(const controller::SyncReport& report) override;
  void onSourceError(const std::string& message) override;
  void onPinFault(const std::string& path, bool repaired) override;
  void onNodeEligible(bool eligible) override;
  bool proxyHealthy() const override;

private:
  bool tryStart();

  OpsFlags flags_;
  controller::AgentOptions options_;
  std::string configz_;
  std::unique_ptr<controller::ProxierHealth> health_;
  std::unique_ptr<controller::AgentMetrics> metrics_;
  std::unique_ptr<controller::HttpServer> metricsServer_;
  std::unique_ptr<controller::HealthServer> healthServer_;
  std::atomic<bool> stopping_{false};
  std::thread retry_;
};

}  // namespace bpfproxy::cli
