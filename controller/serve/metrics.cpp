#include "controller/serve/metrics.h"

#include "bpf/maps_abi.h"
#include "controller/model/lb_choice.h"
#include "controller/model/lb_table.h"

namespace bpfproxy::controller {

namespace {

double unixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// Local policy with endpoints elsewhere but none on this node (kube-proxy counts these as
// Services whose Local traffic has nowhere to go).
bool hasRemoteButNoLocal(const std::vector<EndpointSlice>& slices, const std::string& node) {
  bool any = false, local = false;
  for (const auto& slice : slices)
    for (const auto& endpoint : slice.endpoints) {
      if (!endpoint.conditions.ready.value_or(true) && !endpoint.conditions.serving.value_or(true)) continue;
      any = true;
      if (!node.empty() && endpoint.nodeName == node) local = true;
    }
  return any && !local;
}

}  // namespace

std::vector<double> syncDurationBuckets() {
  std::vector<double> buckets;
  double bound = 0.001;
  for (int i = 0; i < 15; ++i, bound *= 2) buckets.push_back(bound);
  return buckets;
}

std::vector<double> programmingDurationBuckets() {
  std::vector<double> buckets{0.25, 0.5};
  for (int s = 1; s <= 59; ++s) buckets.push_back(s);
  for (int s = 60; s <= 115; s += 5) buckets.push_back(s);
  for (int s = 120; s <= 300; s += 30) buckets.push_back(s);
  return buckets;
}

AgentMetrics::AgentMetrics(MetricsOptions options)
    : options_(std::move(options)),
      registry_(std::make_shared<prometheus::Registry>()),
      collector_(makeCollector(*this)),
      syncDuration_(prometheus::BuildHistogram()
                        .Name("kubeproxy_sync_proxy_rules_duration_seconds")
                        .Help("SyncProxyRules latency in seconds")
                        .Register(*registry_)),
      programmingDuration_(prometheus::BuildHistogram()
                               .Name("kubeproxy_network_programming_duration_seconds")
                               .Help("In Cluster Network Programming Latency in seconds")
                               .Register(*registry_)
                               .Add({}, programmingDurationBuckets())),
      lastSync_(prometheus::BuildGauge()
                    .Name("kubeproxy_sync_proxy_rules_last_timestamp_seconds")
                    .Help("The last time proxy rules were successfully synced")
                    .Register(*registry_)
                    .Add({})),
      lastQueued_(prometheus::BuildGauge()
                      .Name("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds")
                      .Help("The last time a sync of proxy rules was queued")
                      .Register(*registry_)
                      .Add({})),
      endpointPending_(prometheus::BuildGauge()
                           .Name("kubeproxy_sync_proxy_rules_endpoint_changes_pending")
                           .Help("Pending proxy rules Endpoint changes")
                           .Register(*registry_)
                           .Add({})),
      endpointTotal_(prometheus::BuildCounter()
                         .Name("kubeproxy_sync_proxy_rules_endpoint_changes_total")
                         .Help("Cumulative proxy rules Endpoint changes")
                         .Register(*registry_)
                         .Add({})),
      servicePending_(prometheus::BuildGauge()
                          .Name("kubeproxy_sync_proxy_rules_service_changes_pending")
                          .Help("Pending proxy rules Service changes")
                          .Register(*registry_)
                          .Add({})),
      serviceTotal_(prometheus::BuildCounter()
                        .Name("kubeproxy_sync_proxy_rules_service_changes_total")
                        .Help("Cumulative proxy rules Service changes")
                        .Register(*registry_)
                        .Add({})),
      healthz_(prometheus::BuildCounter()
                   .Name("kubeproxy_proxy_healthz_total")
                   .Help("Cumulative proxy healthz HTTP status")
                   .Register(*registry_)),
      livez_(prometheus::BuildCounter()
                 .Name("kubeproxy_proxy_livez_total")
                 .Help("Cumulative proxy livez HTTP status")
                 .Register(*registry_)),
      syncErrors_(prometheus::BuildCounter()
                      .Name("bpfproxy_sync_errors_total")
                      .Help("Frontends a sync could not program (retried later)")
                      .Register(*registry_)
                      .Add({})),
      sourceErrors_(prometheus::BuildCounter()
                        .Name("bpfproxy_source_errors_total")
                        .Help("Objects from the source that were skipped as invalid")
                        .Register(*registry_)
                        .Add({})),
      fullSyncs_(prometheus::BuildCounter()
                     .Name("bpfproxy_full_syncs_total")
                     .Help("Syncs that followed a complete list of the source")
                     .Register(*registry_)
                     .Add({})),
      mapFull_(prometheus::BuildCounter()
                   .Name("bpfproxy_map_full_total")
                   .Help("Frontends not programmed because a map was full (raise --max-services or "
                         "--max-backends)")
                   .Register(*registry_)),
      pinFaults_(prometheus::BuildCounter()
                     .Name("bpfproxy_pin_faults_total")
                     .Help("Pins of the agent's maps and links found removed or replaced in bpffs, "
                           "by whether the agent pinned them again")
                     .Register(*registry_)),
      adoptedFrontends_(prometheus::BuildGauge()
                            .Name("bpfproxy_adopted_frontends")
                            .Help("Frontends found in the pinned maps at start and taken over without a rewrite")
                            .Register(*registry_)
                            .Add({})),
      frontendsWritten_(prometheus::BuildCounter()
                            .Name("bpfproxy_frontends_written_total")
                            .Help("Frontend map entries written by syncs (new or changed)")
                            .Register(*registry_)
                            .Add({})),
      frontendsRemoved_(prometheus::BuildCounter()
                            .Name("bpfproxy_frontends_removed_total")
                            .Help("Frontend map entries removed by syncs")
                            .Register(*registry_)
                            .Add({})),
      socketsDestroyed_(prometheus::BuildCounter()
                            .Name("bpfproxy_stale_sockets_destroyed_total")
                            .Help("Sockets destroyed because the backend they were connected to was removed")
                            .Register(*registry_)) {
  for (const char* protocol : {"udp", "tcp"}) socketsDestroyed_.Add({{"protocol", protocol}});
  for (const char* outcome : {"repaired", "unrepaired"}) pinFaults_.Add({{"outcome", outcome}});
  for (const auto& familyName : options_.ipFamilies) syncDuration_.Add({{"ip_family", familyName}}, syncDurationBuckets());
  prometheus::BuildGauge()
      .Name("bpfproxy_build_info")
      .Help("bpfproxy's version and map layout; always 1")
      .Register(*registry_)
      .Add({{"version", options_.version}, {"map_layout", std::to_string(BPX_LAYOUT_VERSION)}})
      .Set(1);
  // kube-proxy always shows both codes once it served; start them at zero.
  for (const char* code : {"200", "503"}) {
    healthz_.Add({{"code", code}});
    livez_.Add({{"code", code}});
  }
}

AgentMetrics::~AgentMetrics() = default;

void AgentMetrics::countHealthz(int code) { healthz_.Add({{"code", std::to_string(code)}}).Increment(); }
void AgentMetrics::countLivez(int code) { livez_.Add({{"code", std::to_string(code)}}).Increment(); }

void AgentMetrics::onDatapathLoaded(const loader::LoadReport&) {}

void AgentMetrics::onSyncQueued(std::chrono::system_clock::time_point at, const ChangeCounters& totals) {
  lastQueued_.Set(unixSeconds(at));
  std::lock_guard lock(mutex_);
  latest_ = totals;
  publishChanges();
}

void AgentMetrics::publishChanges() {
  endpointTotal_.Increment(static_cast<double>(latest_.endpointChanges - published_.endpointChanges));
  serviceTotal_.Increment(static_cast<double>(latest_.serviceChanges - published_.serviceChanges));
  published_ = latest_;
  endpointPending_.Set(static_cast<double>(latest_.endpointChanges - applied_.endpointChanges));
  servicePending_.Set(static_cast<double>(latest_.serviceChanges - applied_.serviceChanges));
}

void AgentMetrics::onServiceBuilt(const ServiceKey& key, const Service* service,
                                  const std::vector<EndpointSlice>& slices,
                                  const std::vector<FrontendSpec>& frontends) {
  std::lock_guard lock(mutex_);
  if (!service) {
    services_.erase(key);
    return;
  }
  ServiceState state;
  state.optedIn = metricsOptedIn(*service);
  state.invalidLbAnnotations = !lbChoiceFor(*service, BPX_LB_RANDOM).errors.empty();
  state.frontends = frontends.size();
  bool remoteOnly = hasRemoteButNoLocal(slices, options_.nodeName);
  state.internalNoLocal = service->internalTrafficPolicy == "Local" && remoteOnly;
  bool external = service->type == "NodePort" || service->type == "LoadBalancer" || !service->externalIPs.empty();
  state.externalNoLocal = external && service->externalTrafficPolicy == "Local" && remoteOnly;
  for (const auto& frontend : frontends) {
    state.slots += frontend.backends.size() + lookupTableSize(frontend);
    if (state.optedIn && !(frontend.flags & BPX_SVC_F_WILDCARD))
      state.backends.emplace_back(frontend.key, frontend.backends.size());
  }
  services_[key] = std::move(state);
}

void AgentMetrics::onSyncApplied(const SyncReport& report) {
  double seconds = std::chrono::duration<double>(report.duration).count();
  for (const auto& familyName : options_.ipFamilies)
    syncDuration_.Add({{"ip_family", familyName}}, syncDurationBuckets()).Observe(seconds);
  for (const auto& latency : report.programmingLatencies) programmingDuration_.Observe(latency.count());
  lastSync_.Set(unixSeconds(std::chrono::system_clock::now()));
  syncErrors_.Increment(static_cast<double>(report.errors));
  if (report.fullSync) fullSyncs_.Increment();
  for (const auto& [map, count] : report.fullMaps) mapFull_.Add({{"map", map}}).Increment(static_cast<double>(count));
  frontendsWritten_.Increment(static_cast<double>(report.frontendsChanged));
  frontendsRemoved_.Increment(static_cast<double>(report.frontendsRemoved));
  socketsDestroyed_.Add({{"protocol", "udp"}}).Increment(static_cast<double>(report.udpSocketsDestroyed));
  socketsDestroyed_.Add({{"protocol", "tcp"}}).Increment(static_cast<double>(report.tcpSocketsDestroyed));
  std::lock_guard lock(mutex_);
  applied_ = report.changesApplied;
  if (applied_.endpointChanges > latest_.endpointChanges || applied_.serviceChanges > latest_.serviceChanges)
    latest_ = applied_;  // changes that arrived without a queued notice
  publishChanges();
  frontendsProgrammed_ = report.frontendsProgrammed;
  backendsProgrammed_ = report.backendsProgrammed;
  metricsRefused_ = report.metricsRefused;
  synced_ = true;
}

void AgentMetrics::onAdopted(size_t frontends, size_t) { adoptedFrontends_.Set(static_cast<double>(frontends)); }

void AgentMetrics::onSourceError(const std::string&) { sourceErrors_.Increment(); }

void AgentMetrics::onPinFault(const std::string&, bool repaired) {
  pinFaults_.Add({{"outcome", repaired ? "repaired" : "unrepaired"}}).Increment();
}

}  // namespace bpfproxy::controller
