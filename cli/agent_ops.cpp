#include "cli/agent_ops.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "cli/duration.h"
#include "controller/serve/health_server.h"
#include "controller/serve/http_server.h"
#include "controller/source/kube/kube_source.h"
#include "loader/attach_check.h"

namespace bpfproxy::cli {

void addOpsFlags(CLI::App& cmd, OpsFlags& flags) {
  cmd.add_option("--config", flags.configFile,
                 "YAML configuration (KubeProxyConfiguration-shaped, plus a bpfproxy: section); flags override it")
      ->check(CLI::ExistingFile);
  // Last one wins, so wrappers can set a default and callers still override it.
  cmd.add_option("--metrics-bind-address", flags.metricsBindAddress,
                 "ip:port for /metrics (empty: no metrics server)")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd.add_option("--healthz-bind-address", flags.healthzBindAddress,
                 "ip:port for /healthz, /livez, /proxyMode and /configz (empty: no health server)")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd.add_option("--sync-period", flags.syncPeriod,
                 "kube-proxy's sync period: health fails when a change waits 2x this long")
      ->capture_default_str();
}

std::function<std::optional<controller::SourceCounters>()> sourceCountersOf(
    const std::shared_ptr<controller::Source>& source) {
  auto kube = std::dynamic_pointer_cast<const controller::kube::KubeSource>(source);
  if (!kube) return {};
  return [kube]() -> std::optional<controller::SourceCounters> {
    auto stats = kube->stats();
    return controller::SourceCounters{stats.watchRestarts, stats.relists, stats.errors, stats.errorsByReason,
                                      std::chrono::duration<double>(stats.backoff).count()};
  };
}

Status loadConfigFile(CLI::App& cmd, OpsFlags& flags) {
  if (flags.configFile.empty()) return {};
  flags.config = loadAgentConfig(flags.configFile);
  if (!flags.config.error.empty()) return Error{"--config " + flags.config.error};
  if (auto applied = applyAgentConfig(flags.config, cmd); !applied)
    return Error{"--config " + flags.configFile + ": " + applied.error().message};
  return {};
}

AgentOps::AgentOps(const OpsFlags& flags, const controller::AgentOptions& options, const CLI::App& cmd)
    : flags_(flags), options_(options) {
  configz_ = effectiveConfig(cmd, flags.config).serialize();
}

AgentOps::~AgentOps() {
  stopping_ = true;
  if (retry_.joinable()) retry_.join();
  if (healthServer_) healthServer_->stop();
  metricsServer_.reset();  // its handler reads metrics_
}

Status AgentOps::start(const std::function<std::optional<controller::SourceCounters>()>& sourceCounters) {
  auto period = parseDuration(flags_.syncPeriod);
  if (!period || period->count() <= 0)
    return Error{"--sync-period: '" + flags_.syncPeriod + "' is not a positive duration (like 30s)"};
  for (const auto& [flag, address] : {std::pair{"--healthz-bind-address", &flags_.healthzBindAddress},
                                       std::pair{"--metrics-bind-address", &flags_.metricsBindAddress}})
    if (auto parsed = controller::parseBindAddress(*address); !address->empty() && !parsed)
      return Error{std::string(flag) + ": " + parsed.error().message, parsed.error().code};

  health_ = std::make_unique<controller::ProxierHealth>(2 * *period);
  std::string pinDir = options_.pinDir;
  health_->setHookProbe([pinDir] {
    std::string why;
    bool attached = loader::allAttached(loader::checkAttachments(pinDir), &why);
    return controller::HookState{attached, why};
  });

  controller::MetricsOptions metricsOptions;
  metricsOptions.pinDir = options_.pinDir;
  metricsOptions.nodeName = options_.nodeName;
  metricsOptions.version = BPFPROXY_VERSION;
  metricsOptions.sourceCounters = sourceCounters;
  metricsOptions.ipFamilies.clear();
  bool v4 = false, v6 = false;
  for (const auto& cidr : options_.model.serviceCidrs) (cidr.network().isV4() ? v4 : v6) = true;
  if (v4 || !v6) metricsOptions.ipFamilies.push_back("IPv4");
  if (v6) metricsOptions.ipFamilies.push_back("IPv6");
  metrics_ = std::make_unique<controller::AgentMetrics>(metricsOptions);

  if (!tryStart()) {
    retry_ = std::thread([this] {
      while (!stopping_) {
        for (int i = 0; i < 50 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (!stopping_ && tryStart()) return;
      }
    });
  }
  return {};
}

// Starts whichever server is not running yet; true when both run (or are disabled).
bool AgentOps::tryStart() {
  bool ok = true;
  if (!metricsServer_ && !flags_.metricsBindAddress.empty()) {
    auto fd = controller::listenTcp(flags_.metricsBindAddress);
    if (fd) {
      metricsServer_ = std::make_unique<controller::HttpServer>(
          [this](const controller::HttpRequest& request, const std::string&) {
            if (request.path != "/metrics")
              return controller::HttpResponse{404, "text/plain; charset=utf-8", "404 page not found\n", {}};
            return controller::HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics_->render(), {}};
          });
      metricsServer_->addListener(flags_.metricsBindAddress, std::move(fd).value());
      spdlog::info("serving metrics on http://{}/metrics", flags_.metricsBindAddress);
    } else {
      spdlog::error("starting metrics server failed: {} (retrying every 5s)", fd.error().message);
      ok = false;
    }
  }
  if (!healthServer_ && !flags_.healthzBindAddress.empty()) {
    controller::HealthEndpoints endpoints;
    endpoints.health = health_.get();
    endpoints.countHealthz = [this](int code) { metrics_->countHealthz(code); };
    endpoints.countLivez = [this](int code) { metrics_->countLivez(code); };
    endpoints.configz = configz_;
    auto server = std::make_unique<controller::HealthServer>(flags_.healthzBindAddress, endpoints);
    try {
      server->start();
      healthServer_ = std::move(server);
      spdlog::info("serving /healthz, /livez, /proxyMode and /configz on {}", flags_.healthzBindAddress);
    } catch (const std::exception& e) {
      spdlog::error("starting healthz server failed: {} (retrying every 5s)", e.what());
      ok = false;
    }
  }
  return ok;
}

void AgentOps::onDatapathLoaded(const loader::LoadReport& report) {
  health_->datapathLoaded();
  metrics_->onDatapathLoaded(report);
}

void AgentOps::onAdopted(size_t frontends, size_t backends) { metrics_->onAdopted(frontends, backends); }

void AgentOps::onSyncQueued(std::chrono::system_clock::time_point at, const controller::ChangeCounters& totals) {
  health_->queuedUpdate();
  metrics_->onSyncQueued(at, totals);
}

void AgentOps::onServiceBuilt(const controller::ServiceKey& key, const controller::Service* service,
                              const std::vector<controller::EndpointSlice>& slices,
                              const std::vector<controller::FrontendSpec>& frontends) {
  metrics_->onServiceBuilt(key, service, slices, frontends);
}

void AgentOps::onSyncApplied(const controller::SyncReport& report) {
  health_->updated(report.fullSync);
  metrics_->onSyncApplied(report);
}

void AgentOps::onSourceError(const std::string& message) { metrics_->onSourceError(message); }

void AgentOps::onPinFault(const std::string& path, bool repaired) { metrics_->onPinFault(path, repaired); }
void AgentOps::onNodeEligible(bool eligible) { health_->setNodeEligible(eligible); }

bool AgentOps::proxyHealthy() const { return health_->proxierHealthy(); }

}  // namespace bpfproxy::cli
