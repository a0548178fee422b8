#include "controller/serve/metrics.h"

#include <linux/bpf.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "bpf/maps_abi.h"
#include "controller/model/lb_choice.h"
#include "controller/model/lb_table.h"
#include "loader/attach_check.h"
#include "maps/datapath_maps.h"
#include "maps/map_names.h"
#include "maps/map_usage.h"
#include "maps/stat_names.h"

namespace bpfproxy::controller {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

double unixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

MetricFamily family(std::string name, std::string help, MetricType type) {
  return MetricFamily{std::move(name), std::move(help), type, {}};
}

void addSample(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  switch (f.type) {
    case MetricType::Counter: metric.counter.value = value; break;
    case MetricType::Gauge: metric.gauge.value = value; break;
    default: metric.untyped.value = value;
  }
  f.metric.push_back(std::move(metric));
}

bool optedIn(const Service& service) {
  auto it = service.meta.annotations.find(kMetricsAnnotation);
  return it != service.meta.annotations.end() && it->second == "true";
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

struct StatName {
  uint32_t index;
  const char* label;
};
constexpr StatName kHookStats[] = {
    {BPX_STAT_CONNECT4, "connect4"},       {BPX_STAT_CONNECT6, "connect6"},
    {BPX_STAT_SENDMSG4, "sendmsg4"},       {BPX_STAT_SENDMSG6, "sendmsg6"},
    {BPX_STAT_RECVMSG4, "recvmsg4"},       {BPX_STAT_RECVMSG6, "recvmsg6"},
    {BPX_STAT_GETPEERNAME4, "getpeername4"}, {BPX_STAT_GETPEERNAME6, "getpeername6"},
};
constexpr StatName kProtocolStats[] = {
    {BPX_STAT_TCP, "TCP"}, {BPX_STAT_UDP, "UDP"}, {BPX_STAT_SCTP, "SCTP"}};

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

// What is read at scrape time: the BPF counters, map fill, attach state, source counters,
// and the series whose label sets change with the Services.
class AgentMetrics::Collector : public prometheus::Collectable {
public:
  explicit Collector(AgentMetrics& owner) : owner_(owner) {}

  std::vector<MetricFamily> Collect() const override {
    std::vector<MetricFamily> families;
    collectServices(families);
    collectMaps(families);
    collectPrograms(families);
    collectSource(families);
    return families;
  }

private:
  void collectServices(std::vector<MetricFamily>& out) const {
    std::lock_guard lock(owner_.mutex_);
    // A gauge in kube-proxy despite the _total name; untyped here so `promtool check
    // metrics` accepts it. Same name, same labels, same value.
    auto noLocal = family("kubeproxy_sync_proxy_rules_no_local_endpoints_total",
                          "Number of services with a Local traffic policy and no endpoints",
                          MetricType::Untyped);
    size_t internal = 0, external = 0;
    auto backends = family("bpfproxy_service_backends",
                           "Backends programmed per frontend, for Services annotated bpfproxy.io/metrics=true",
                           MetricType::Gauge);
    size_t invalidLb = 0;
    for (const auto& [key, state] : owner_.services_) {
      invalidLb += state.invalidLbAnnotations;
      internal += state.internalNoLocal;
      external += state.externalNoLocal;
      if (!state.optedIn) continue;
      for (const auto& [frontend, count] : state.backends)
        addSample(backends,
                  {{"frontend", formatEndpoint(frontend.address, frontend.port)},
                   {"name", key.name},
                   {"namespace", key.namespace_},
                   {"protocol", frontend.proto == BPX_PROTO_UDP ? "UDP" : frontend.proto == BPX_PROTO_SCTP ? "SCTP" : "TCP"}},
                  static_cast<double>(count));
    }
    addSample(noLocal, {{"traffic_policy", "internal"}}, static_cast<double>(internal));
    addSample(noLocal, {{"traffic_policy", "external"}}, static_cast<double>(external));
    out.push_back(std::move(noLocal));
    auto invalid = family("bpfproxy_services_invalid_lb_annotations",
                          "Services whose bpfproxy.io/lb-algorithm, lb-weights, lb-slow-start or terminating-fallback annotation is "
                          "invalid (the default is used; the agent's log names the Service and the value)",
                          MetricType::Gauge);
    addSample(invalid, {}, static_cast<double>(invalidLb));
    out.push_back(std::move(invalid));
    if (!backends.metric.empty()) out.push_back(std::move(backends));
  }

  void collectMaps(std::vector<MetricFamily>& out) const {
    size_t services, backends, slots;
    {
      std::lock_guard lock(owner_.mutex_);
      services = owner_.frontendsProgrammed_;
      backends = owner_.backendsProgrammed_;
      slots = 0;
      for (const auto& [key, state] : owner_.services_) slots += state.slots;
    }
    auto entries = family("bpfproxy_bpf_map_entries",
                          "Entries in each BPF map: the agent's count for the maps it writes, a key walk for the caches the datapath fills",
                          MetricType::Gauge);
    auto capacity = family("bpfproxy_bpf_map_capacity", "max_entries of each BPF map", MetricType::Gauge);
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(maps::mapsDir(owner_.options_.pinDir), ec))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      auto map = maps::MapFd::openPinned(maps::mapPinPath(owner_.options_.pinDir, name));
      maps::MapFd::Info info;
      if (!map.valid() || map.info(info) != 0) continue;
      addSample(capacity, {{"map", name}}, info.maxEntries);
      std::optional<double> count;
      if (name == maps::kServiceMap || name == maps::kServiceMetaMap) count = services;
      else if (name == maps::kBackendMap) count = backends;
      else if (name == maps::kSlotMap) count = slots;
      else if (info.type == BPF_MAP_TYPE_LRU_HASH || info.type == BPF_MAP_TYPE_HASH ||
               info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH || info.type == BPF_MAP_TYPE_LPM_TRIE)
        count = static_cast<double>(maps::countEntries(map));
      if (count) addSample(entries, {{"map", name}}, *count);
    }
    out.push_back(std::move(entries));
    out.push_back(std::move(capacity));

    maps::DatapathMaps datapath;
    if (!datapath.open(owner_.options_.pinDir).ok()) return;
    auto stats = datapath.readCounters();
    auto translations = family("bpfproxy_translations_total",
                               "Socket addresses translated by the datapath, by hook", MetricType::Counter);
    for (const auto& stat : kHookStats)
      addSample(translations, {{"hook", stat.label}}, static_cast<double>(stats[stat.index]));
    auto byProtocol = family("bpfproxy_translations_by_protocol_total",
                             "Forward translations (connect, sendmsg) by protocol", MetricType::Counter);
    for (const auto& stat : kProtocolStats)
      addSample(byProtocol, {{"protocol", stat.label}}, static_cast<double>(stats[stat.index]));
    auto drops = family("bpfproxy_drops_total",
                        "Connections and packets refused or dropped by the datapath (socket hooks and TC), by reason",
                        MetricType::Counter);
    for (const auto& counter : maps::dropCounters())
      addSample(drops, {{"reason", counter.reason}}, static_cast<double>(stats[counter.index]));
    out.push_back(std::move(translations));
    out.push_back(std::move(byProtocol));
    out.push_back(std::move(drops));
  }

  void collectPrograms(std::vector<MetricFamily>& out) const {
    auto attached = family("bpfproxy_program_attached",
                           "1 when the program's pinned link is attached, 0 when it is missing or detached",
                           MetricType::Gauge);
    for (const auto& program : loader::checkAttachments(owner_.options_.pinDir))
      addSample(attached, {{"hook", program.hook}, {"program", program.program}}, program.attached ? 1 : 0);
    out.push_back(std::move(attached));
  }

  void collectSource(std::vector<MetricFamily>& out) const {
    if (!owner_.options_.sourceCounters) return;
    auto counters = owner_.options_.sourceCounters();
    if (!counters) return;
    auto restarts = family("bpfproxy_api_watch_restarts_total",
                           "Kubernetes API watches re-opened after they ended or broke", MetricType::Counter);
    addSample(restarts, {}, static_cast<double>(counters->watchRestarts));
    auto relists = family("bpfproxy_api_relists_total",
                          "Kubernetes API lists repeated after a watch expired (410 Gone)", MetricType::Counter);
    addSample(relists, {}, static_cast<double>(counters->relists));
    auto errors = family("bpfproxy_api_errors_total",
                         "Kubernetes API requests that failed and streams that broke, by cause",
                         MetricType::Counter);
    for (const char* reason : {"unreachable", "tls", "unauthorized", "watch_broken", "server_error", "other"}) {
      auto found = counters->errorsByReason.find(reason);
      addSample(errors, {{"reason", reason}},
                static_cast<double>(found == counters->errorsByReason.end() ? 0 : found->second));
    }
    auto backoff = family("bpfproxy_api_backoff_seconds",
                          "The wait before the Kubernetes API source retries; 0 while it is answered",
                          MetricType::Gauge);
    addSample(backoff, {}, counters->backoffSeconds);
    out.push_back(std::move(restarts));
    out.push_back(std::move(relists));
    out.push_back(std::move(errors));
    out.push_back(std::move(backoff));
  }

  AgentMetrics& owner_;
};

AgentMetrics::AgentMetrics(MetricsOptions options)
    : options_(std::move(options)),
      registry_(std::make_shared<prometheus::Registry>()),
      collector_(std::make_shared<Collector>(*this)),
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

std::shared_ptr<prometheus::Collectable> AgentMetrics::collector() const { return collector_; }

std::string AgentMetrics::render() const {
  auto families = registry_->Collect();
  auto more = collector_->Collect();
  families.insert(families.end(), more.begin(), more.end());
  return prometheus::TextSerializer().Serialize(families);
}

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
  state.optedIn = optedIn(*service);
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
  synced_ = true;
}

void AgentMetrics::onAdopted(size_t frontends, size_t) { adoptedFrontends_.Set(static_cast<double>(frontends)); }

void AgentMetrics::onSourceError(const std::string&) { sourceErrors_.Increment(); }

void AgentMetrics::onPinFault(const std::string&, bool repaired) {
  pinFaults_.Add({{"outcome", repaired ? "repaired" : "unrepaired"}}).Increment();
}

}  // namespace bpfproxy::controller
