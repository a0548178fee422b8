#include "controller/sync/agent.h"

#include <spdlog/spdlog.h>

#include <map>
#include <thread>

#include "controller/sync/agent_observer.h"
#include "controller/state/cluster_store.h"
#include "controller/sync/reconciler.h"
#include "loader/kernel_features.h"
#include "maps/datapath_maps.h"
#include "maps/snapshot_reader.h"
#include "maps/bpf_datapath_writer.h"

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

}  // namespace

int runAgent(const AgentOptions& options, std::shared_ptr<Source> source,
             const std::atomic<bool>& stop, AgentObserver* observer) {
  NullObserver nullObserver;
  if (!observer) observer = &nullObserver;
  // kube-proxy's network-programming latency leaves out changes made before it started:
  // after a restart they would measure the downtime, not the programming.
  const auto agentStarted = std::chrono::system_clock::now();

  auto features = loader::probeKernelFeatures();
  if (auto missing = features.missingRequired(); !missing.empty()) {
    for (const auto& line : missing) spdlog::critical("kernel feature missing: {}", line);
    return 1;
  }

  // Conntrack belongs to the per-packet datapath, and an LRU map is preallocated: without
  // that datapath it takes the least room (a restart with --devices resizes it).
  loader::MapSizes sizes = options.mapSizes;
  if (!options.tc.enabled()) sizes.conntrack = 1;
  loader::LoadReport loaded;
  try {
    loaded = loader::loadSocketLb({options.pinDir, options.cgroupPath, sizes});
  } catch (const loader::LoaderError& error) {
    spdlog::critical("{}", error.what());
    return 1;
  }
  for (const auto& note : loaded.notes) spdlog::info("{}", note);
  for (const auto& program : loaded.programs)
    spdlog::info("{} {} on {} ({})", program.updated ? "updated" : "attached", program.name,
                 options.cgroupPath, program.linkPin);
  observer->onDatapathLoaded(loaded);

  maps::DatapathMaps datapath;
  std::string error;
  if (!datapath.open(options.pinDir, &error)) {
    spdlog::critical("{}", error);
    return 1;
  }
  maps::BpfDatapathWriter writer(datapath);
  Reconciler reconciler(writer, options.mapSizes.servicePorts, options.mapSizes.backends);
  reconciler.adopt(maps::readSnapshot(datapath));
  spdlog::info("adopted {} frontends and {} backends from {}", reconciler.frontendCount(),
               reconciler.backendCount(), options.pinDir);
  // Before the TC agent, which may read bypassing Pods from it (and is destroyed first).
  ClusterStore store(options.nodeName);
  // The node's addresses, flags, service CIDRs and source ranges serve both paths: kept
  // whether or not the per-packet programs run.
  std::unique_ptr<NodeState> node;
  try {
    node = std::make_unique<NodeState>(NodeStateOptions{options.tc.devices, options.tc.nodePortAddresses,
                                                        options.tc.settings, options.model.serviceCidrs},
                                       options.pinDir);
  } catch (const std::exception& failure) {
    spdlog::critical("node state: {}", failure.what());
    return 1;
  }
  auto lastNodeRefresh = Clock::now();
  std::unique_ptr<TcAgent> tc;
  if (options.tc.enabled()) {
    TcAgentOptions tcOptions = options.tc;
    if (!tcOptions.bypassPods)  // not from a manifests directory: from the source, via the store
      tcOptions.bypassPods = [&store](std::vector<std::string>&) { return store.bypassPods(); };
    try {
      tc = std::make_unique<TcAgent>(tcOptions, options.pinDir, options.mapSizes, *node);
    } catch (const std::exception& failure) {
      spdlog::critical("per-packet datapath: {}", failure.what());
      return 1;
    }
  }

  spdlog::info("watching {}", source->describe());
  source->start(store);

  ModelConfig model = options.model;
  RetryQueue retries;
  bool fullySynced = false;
  auto lastSync = Clock::now() - options.minSyncPeriod;
  ChangeCounters queued;  // the change totals last reported as queued
  while (!stop.load()) {
    bool changed = store.waitForChange(std::chrono::milliseconds(200));
    if (Clock::now() - lastNodeRefresh >= std::chrono::seconds(1)) {
      if (auto error = node->refresh(); !error.empty()) spdlog::error("node addresses: {}", error);
      lastNodeRefresh = Clock::now();
    }
    for (const auto& message : store.takeErrors()) {
      spdlog::warn("skipped: {}", message);
      observer->onSourceError(message);
    }
    // A change that made a Service dirty queues a sync (kube-proxy's QueuedUpdate).
    if (auto counters = store.counters(); changed && (counters.serviceChanges != queued.serviceChanges ||
                                                      counters.endpointChanges != queued.endpointChanges)) {
      queued = counters;
      observer->onSyncQueued(std::chrono::system_clock::now(), counters);
    }
    if (!store.hasSynced()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the first list is arriving
      continue;
    }
    auto sinceSync = Clock::now() - lastSync;
    if (sinceSync < options.minSyncPeriod) {  // batch changes, as kube-proxy's minSyncPeriod
      std::this_thread::sleep_for(
          std::min<Clock::duration>(options.minSyncPeriod - sinceSync, std::chrono::milliseconds(200)));
      continue;
    }

    auto changes = store.counters();
    auto dirty = store.takeDirty();
    for (const auto& key : retries.due()) dirty.push_back({key, std::chrono::system_clock::now()});
    if (dirty.empty() && fullySynced) continue;

    SyncReport report;
    report.startedAt = std::chrono::system_clock::now();
    report.fullSync = !fullySynced;
    report.changesApplied = changes;
    auto started = Clock::now();
    model.nodeZone = store.nodeZone();
    for (const auto& [key, triggeredAt] : dirty) {
      retries.entries.erase(key);
      std::vector<FrontendSpec> frontends;
      auto service = store.service(key);
      std::vector<EndpointSlice> slices;
      if (service) {
        slices = store.slicesFor(key);
        std::vector<const EndpointSlice*> slicePointers;
        for (const auto& slice : slices) slicePointers.push_back(&slice);
        auto built = buildServiceFrontends(*service, slicePointers, model);
        for (const auto& warning : built.warnings) spdlog::warn("{}", warning);
        frontends = std::move(built.frontends);
      }
      observer->onServiceBuilt(key, service ? &*service : nullptr, slices, frontends);
      if (options.protectedService == key && !anyBackends(frontends) && reconciler.hasBackends(key)) {
        spdlog::warn("{} has no endpoints now; keeping its last backends, since this agent reaches "
                     "the API server through it", key.toString());
        continue;
      }
      auto result = reconciler.apply(key, frontends);
      node->serviceSynced(key, frontends, reconciler);
      if (tc) tc->serviceSynced(key, service ? &*service : nullptr, frontends);
      report.servicesSynced++;
      report.frontendsChanged += result.frontendsChanged;
      report.frontendsRemoved += result.frontendsRemoved;
      report.errors += result.errors.size();
      if (!result.errors.empty()) {
        std::string joined;
        for (const auto& e : result.errors) joined += (joined.empty() ? "" : "; ") + e;
        retries.failed(key, joined, options.retryPeriod);
      }
      if (result.frontendsChanged + result.frontendsRemoved > 0 && triggeredAt >= agentStarted)
        report.programmingLatencies.push_back(std::chrono::system_clock::now() - triggeredAt);
    }
    if (!fullySynced) {
      // Only a complete list may remove what an earlier agent programmed.
      auto live = store.serviceKeys();
      auto removed = reconciler.removeAllExcept({live.begin(), live.end()});
      report.frontendsRemoved += removed.frontendsRemoved;
      fullySynced = true;
    }
    report.duration = Clock::now() - started;
    report.frontendsProgrammed = reconciler.frontendCount();
    report.backendsProgrammed = reconciler.backendCount();
    lastSync = Clock::now();
    if (report.frontendsChanged + report.frontendsRemoved + report.errors > 0 || report.fullSync)
      spdlog::info("sync: {} services, {} frontends written, {} removed, {} errors in {:.1f} ms; "
                   "{} frontends, {} backends programmed",
                   report.servicesSynced, report.frontendsChanged, report.frontendsRemoved,
                   report.errors,
                   std::chrono::duration<double, std::milli>(report.duration).count(),
                   report.frontendsProgrammed, report.backendsProgrammed);
    observer->onSyncApplied(report);
  }
  source->stop();
  spdlog::info("stopped; the datapath stays programmed in {}", options.pinDir);
  return 0;
}

}  // namespace bpfproxy::controller
