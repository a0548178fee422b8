#include "controller/sync/agent.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <map>
#include <thread>

#include "controller/state/cluster_store.h"
#include "controller/sync/agent_observer.h"
#include "controller/sync/reconciler.h"
#include "loader/kernel_features.h"
#include "loader/pin_guard.h"
#include "loader/socket_destroyer.h"
#include "maps/bpf_datapath_writer.h"
#include "maps/datapath_maps.h"
#include "maps/snapshot_reader.h"

namespace bpfproxy::controller {

namespace {

using Clock = std::chrono::steady_clock;

class NullObserver : public AgentObserver {};

// Services whose apply failed, with when to try again and the last error (logged once).
struct RetryQueue {
  std::map<ServiceKey, std::pair<Clock::time_point, std::string>> entries;

  void failed(const ServiceKey& key, const std::string& error, Clock::duration period) {
    auto& entry = entries[key];
    if (entry.second != error) spdlog::error("{}", error);
    entry = {Clock::now() + period, error};
  }
  // Synced again after `period`, not for an error (slow start).
  void again(const ServiceKey& key, Clock::duration period) { entries[key] = {Clock::now() + period, ""}; }
  std::vector<ServiceKey> due() {
    std::vector<ServiceKey> keys;
    for (const auto& [key, entry] : entries)
      if (entry.first <= Clock::now()) keys.push_back(key);
    return keys;
  }
};

bool anyBackends(const std::vector<FrontendSpec>& frontends) {
  for (const auto& frontend : frontends)
    if (!frontend.backends.empty()) return true;
  return false;
}

std::string joined(const std::vector<std::string>& errors) {
  std::string text;
  for (const auto& error : errors) text += (text.empty() ? "" : "; ") + error;
  return text;
}

// Sockets still connected to backends the sync removed: destroyed in every network
// namespace, so clients that keep a connected socket (DNS resolvers) connect again.
void destroyStaleSockets(Reconciler& reconciler, loader::SocketDestroyer* destroyer, SyncReport& report) {
  auto removed = reconciler.takeRemovedBackends();
  if (removed.empty() || !destroyer) return;
  std::vector<loader::StaleBackend> stale;
  for (const auto& backend : removed) stale.push_back({backend.address, backend.port, backend.proto});
  auto counts = destroyer->destroy(stale);
  for (const auto& failure : counts.errors) spdlog::warn("destroying stale sockets: {}", failure);
  report.udpSocketsDestroyed = counts.udp;
  report.tcpSocketsDestroyed = counts.tcp;
  if (counts.udp + counts.tcp > 0)
    spdlog::info("destroyed {} UDP and {} TCP sockets connected to {} removed backends ({} network namespaces)",
                 counts.udp, counts.tcp, stale.size(), counts.namespaces);
}

// runAgent's steps, in the order they run: probe, load, adopt, start the node's TC side,
// watch the source, then loop: wait for changes and converge the maps to them.
class Agent {
public:
  Agent(const AgentOptions& options, std::shared_ptr<Source> source, AgentObserver& observer)
      : options_(options), source_(std::move(source)), observer_(observer),
        store_(options.nodeName), model_(options.model) {
    reconciler_.setMetricsLimit(options.maxMetricsServices);
  }

  int run(const std::atomic<bool>& stop) {
    // The source reads and decodes its first list while the programs load: on a cold start
    // each takes hundreds of milliseconds. Stopped before store_ goes, also on a throw.
    RunningSource running(*source_, store_);
    if (!probe() || !load() || !adopt() || !startNode()) return 1;
    startSocketDestroyer();
    // Holds every map and link, so a pin removed under the agent is pinned again.
    if (auto held = pins_.hold(); !held) spdlog::warn("pin guard: {}", held.error().message);
    spdlog::info("watching {}", source_->describe());
    loop(stop);
    spdlog::info("stopped; the datapath stays programmed in {}", options_.pinDir);
    return 0;
  }

private:
  // The kernel has what the programs need.
  bool probe() {
    auto missing = loader::probeKernelFeatures().missingRequired();
    for (const auto& line : missing) spdlog::critical("kernel feature missing: {}", line);
    return missing.empty();
  }

  // The socket programs loaded and attached; their maps pinned, or adopted from the pins.
  bool load() {
    // Conntrack belongs to the per-packet datapath, and an LRU map is preallocated: without
    // that datapath it takes the least room (a restart with --devices resizes it).
    loader::MapSizes sizes = options_.mapSizes;
    if (!options_.tc.enabled()) sizes.conntrack = 1;
    loader::LoadReport loaded;
    try {
      loaded = loader::loadSocketLb({options_.pinDir, options_.cgroupPath, sizes});
    } catch (const loader::LoaderError& error) {
      spdlog::critical("{}", error.what());
      return false;
    }
    for (const auto& note : loaded.notes) spdlog::info("{}", note);
    for (const auto& program : loaded.programs)
      spdlog::info("{} {} on {} ({})", program.updated ? "updated" : "attached", program.name,
                   options_.cgroupPath, program.linkPin);
    observer_.onDatapathLoaded(loaded);
    return true;
  }

  // The reconciler takes what the maps hold as programmed, so a restart rewrites nothing.
  bool adopt() {
    if (auto opened = maps_.open(options_.pinDir); !opened) {
      spdlog::critical("{}", opened.error().message);
      return false;
    }
    reconciler_.adopt(maps::readSnapshot(maps_));
    spdlog::info("adopted {} frontends and {} backends from {}", reconciler_.frontendCount(),
                 reconciler_.backendCount(), options_.pinDir);
    observer_.onAdopted(reconciler_.frontendCount(), reconciler_.backendCount());
    return true;
  }

  // This node's addresses, flags, service CIDRs and source ranges (both paths use them), and
  // the per-packet datapath when devices are given.
  bool startNode() {
    try {
      node_ = std::make_unique<NodeState>(NodeStateOptions{options_.tc.devices, options_.tc.nodePortAddresses,
                                                           options_.tc.settings, options_.model.serviceCidrs},
                                          options_.pinDir);
    } catch (const std::exception& failure) {
      spdlog::critical("node state: {}", failure.what());
      return false;
    }
    if (!options_.tc.enabled()) return true;
    TcAgentOptions tcOptions = options_.tc;
    if (!tcOptions.bypassPods)  // from the source, via the store
      tcOptions.bypassPods = [this](std::vector<std::string>&) { return store_.bypassPods(); };
    if (!tcOptions.proxyHealthy) tcOptions.proxyHealthy = [this] { return observer_.proxyHealthy(); };
    try {
      tc_ = std::make_unique<TcAgent>(tcOptions, options_.pinDir, options_.mapSizes, *node_);
    } catch (const std::exception& failure) {
      spdlog::critical("per-packet datapath: {}", failure.what());
      return false;
    }
    return true;
  }

  // Sockets connected to removed backends destroyed after each sync; without it (an old
  // kernel, no cgroup) the datapath still works and the agent says so once.
  void startSocketDestroyer() {
    try {
      destroyer_ = std::make_unique<loader::SocketDestroyer>(options_.cgroupPath, options_.destroyTcpSockets);
      if (!destroyer_->degraded().empty()) spdlog::warn("stale sockets: {}", destroyer_->degraded());
    } catch (const loader::LoaderError& failure) {
      spdlog::warn("sockets connected to removed backends are not destroyed: {}", failure.what());
    }
  }

  void loop(const std::atomic<bool>& stop) {
    auto lastSync = Clock::now() - options_.minSyncPeriod;
    auto lastNodeRefresh = Clock::now();
    auto lastPinCheck = Clock::now();
    ChangeCounters queued;  // the change totals last reported as queued
    while (!stop.load()) {
      bool changed = store_.waitForChange(std::chrono::milliseconds(200));
      if (Clock::now() - lastNodeRefresh >= std::chrono::seconds(1)) {
        if (auto refreshed = node_->refresh(); !refreshed)
          spdlog::error("node addresses: {}", refreshed.error().message);
        lastNodeRefresh = Clock::now();
      }
      if (Clock::now() - lastPinCheck >= options_.pinCheckPeriod) {
        lastPinCheck = Clock::now();
        for (const auto& fault : pins_.check()) {
          if (fault.repaired)
            spdlog::warn("{}", fault.message);
          else
            spdlog::error("{}", fault.message);
          observer_.onPinFault(fault.path, fault.repaired);
        }
      }
      for (const auto& message : store_.takeErrors()) {
        spdlog::warn("skipped: {}", message);
        observer_.onSourceError(message);
      }
      observer_.onNodeEligible(store_.nodeEligible());
      // A change that made a Service dirty queues a sync (kube-proxy's QueuedUpdate).
      if (auto counters = store_.counters();
          changed && (counters.serviceChanges != queued.serviceChanges ||
                      counters.endpointChanges != queued.endpointChanges)) {
        queued = counters;
        observer_.onSyncQueued(std::chrono::system_clock::now(), counters);
      }
      if (!store_.hasSynced()) {
        store_.waitForSynced(std::chrono::milliseconds(200));  // the first list is arriving
        continue;
      }
      auto sinceSync = Clock::now() - lastSync;
      if (sinceSync < options_.minSyncPeriod) {  // batch changes, as kube-proxy's minSyncPeriod
        std::this_thread::sleep_for(std::min<Clock::duration>(options_.minSyncPeriod - sinceSync,
                                                              std::chrono::milliseconds(200)));
        continue;
      }
      if (converge()) lastSync = Clock::now();
    }
  }

  // Rebuilds the dirty Services (and those due a retry) and applies them; after the first
  // complete list, also removes what no Service wants. False when there was nothing to do.
  bool converge() {
    auto changes = store_.counters();
    auto dirty = store_.takeDirty();
    for (const auto& key : retries_.due()) dirty.push_back({key, std::chrono::system_clock::now()});
    if (dirty.empty() && fullySynced_) return false;

    SyncReport report;
    report.startedAt = std::chrono::system_clock::now();
    report.fullSync = !fullySynced_;
    report.changesApplied = changes;
    auto started = Clock::now();
    model_.nodeZone = store_.nodeZone();
    // The first sync writes every Service: one batch per map instead of a syscall each.
    const bool batched = !fullySynced_ && !batchFailed_;
    if (batched) writer_.beginBatch();
    for (const auto& [key, triggeredAt] : dirty) syncService(key, triggeredAt, report);
    if (batched) {
      if (auto written = writer_.endBatch(); !written) {
        recoverFromBatch(written.error().message, dirty);
        return true;
      }
    }
    if (!fullySynced_) {
      // Only a complete list may remove what an earlier agent programmed.
      auto live = store_.serviceKeys();
      report.frontendsRemoved += reconciler_.removeAllExcept({live.begin(), live.end()}).frontendsRemoved;
      fullySynced_ = true;
      malloc_trim(0);  // the first sync's peak (held writes, the model's copies) is not kept
    }
    destroyStaleSockets(reconciler_, destroyer_.get(), report);
    report.duration = Clock::now() - started;
    report.frontendsProgrammed = reconciler_.frontendCount();
    report.backendsProgrammed = reconciler_.backendCount();
    report.metricsRefused = reconciler_.metricsRefusedCount();
    if (report.frontendsChanged + report.frontendsRemoved + report.errors > 0 || report.fullSync)
      spdlog::info("sync: {} services, {} frontends written, {} removed, {} errors in {:.1f} ms; "
                   "{} frontends, {} backends programmed",
                   report.servicesSynced, report.frontendsChanged, report.frontendsRemoved,
                   report.errors, std::chrono::duration<double, std::milli>(report.duration).count(),
                   report.frontendsProgrammed, report.backendsProgrammed);
    observer_.onSyncApplied(report);
    return true;
  }

  // Some held writes did not land, so the reconciler's view is wrong: it adopts what the
  // maps hold, and the same Services are synced again one write at a time, each error then
  // reported with its Service.
  void recoverFromBatch(const std::string& error, const std::vector<DirtyService>& dirty) {
    spdlog::error("first sync: {}; re-reading the maps and writing one entry at a time", error);
    batchFailed_ = true;
    reconciler_.forgetAll();
    reconciler_.adopt(maps::readSnapshot(maps_));
    for (const auto& entry : dirty) retries_.entries[entry.key] = {Clock::now(), ""};
  }

  void syncService(const ServiceKey& key, std::chrono::system_clock::time_point triggeredAt,
                   SyncReport& report) {
    retries_.entries.erase(key);
    std::vector<FrontendSpec> frontends;
    auto service = store_.service(key);
    std::vector<EndpointSlice> slices;
    if (service) {
      slices = store_.slicesFor(key);
      std::vector<const EndpointSlice*> slicePointers;
      for (const auto& slice : slices) slicePointers.push_back(&slice);
      auto built = buildServiceFrontends(*service, slicePointers, model_);
      for (const auto& warning : built.warnings) spdlog::warn("{}", warning);
      frontends = std::move(built.frontends);
    }
    observer_.onServiceBuilt(key, service ? &*service : nullptr, slices, frontends);
    if (options_.protectedService == key && !anyBackends(frontends) && reconciler_.hasBackends(key)) {
      spdlog::warn("{} has no endpoints now; keeping its last backends, since this agent reaches "
                   "the API server through it", key.toString());
      return;
    }
    auto result = reconciler_.apply(key, frontends);
    for (const auto& warning : result.warnings) spdlog::warn("{}", warning);
    node_->serviceSynced(key, frontends, result.serviceIds);
    if (tc_) tc_->serviceSynced(key, service ? &*service : nullptr, frontends);
    report.servicesSynced++;
    report.frontendsChanged += result.frontendsChanged;
    report.frontendsRemoved += result.frontendsRemoved;
    report.errors += result.errors.size();
    for (const auto& map : result.fullMaps) report.fullMaps[map]++;
    if (!result.errors.empty()) retries_.failed(key, joined(result.errors), options_.retryPeriod);
    // Slow start: the table is rebuilt each second while a backend ramps up; drain-after:
    // the frontend drains within a second of its window's end.
    else if (reconciler_.ramping(key) || reconciler_.drainPending(key)) retries_.again(key, std::chrono::seconds(1));
    // Refused bpfproxy.io/metrics: counted once a counted Service goes.
    else if (reconciler_.metricsRefused(key)) retries_.again(key, options_.retryPeriod);
    if (result.frontendsChanged + result.frontendsRemoved > 0 && triggeredAt >= started_)
      report.programmingLatencies.push_back(std::chrono::system_clock::now() - triggeredAt);
  }

  const AgentOptions& options_;
  // kube-proxy's network-programming latency leaves out changes made before it started:
  // after a restart they would measure the downtime, not the programming.
  const std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  std::shared_ptr<Source> source_;
  AgentObserver& observer_;
  maps::DatapathMaps maps_;
  maps::BpfDatapathWriter writer_{maps_};
  Reconciler reconciler_{writer_, options_.mapSizes.servicePorts, options_.mapSizes.backends};
  // Before the TC agent, which may read bypassing Pods from it (and is destroyed first).
  ClusterStore store_;
  std::unique_ptr<NodeState> node_;  // before the TC agent, which writes through it
  std::unique_ptr<TcAgent> tc_;
  std::unique_ptr<loader::SocketDestroyer> destroyer_;
  ModelConfig model_;
  RetryQueue retries_;
  bool fullySynced_ = false;
  bool batchFailed_ = false;
  loader::PinGuard pins_{options_.pinDir};
};

}  // namespace

int runAgent(const AgentOptions& options, std::shared_ptr<Source> source,
             const std::atomic<bool>& stop, AgentObserver* observer) {
  NullObserver nullObserver;
  Agent agent(options, std::move(source), observer ? *observer : nullObserver);
  return agent.run(stop);
}

}  // namespace bpfproxy::controller
