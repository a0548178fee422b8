// AgentMetrics' scrape-time half: what is read when /metrics is served (the BPF counters,
// map fill, attach state, the source's counters) and the series whose label sets follow
// the Services. The agent-updated half is metrics.cpp.
#include <linux/bpf.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <filesystem>

#include "bpf/maps_abi.h"
#include "controller/serve/metrics.h"
#include "loader/attach_check.h"
#include "maps/datapath_maps.h"
#include "maps/map_names.h"
#include "maps/map_usage.h"
#include "maps/service_traffic.h"
#include "maps/stat_names.h"

namespace bpfproxy::controller {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

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
    auto refused = family("bpfproxy_services_metrics_refused",
                          "Services annotated bpfproxy.io/metrics but not counted per backend: "
                          "--max-metrics-services are counted already",
                          MetricType::Gauge);
    addSample(refused, {}, static_cast<double>(owner_.metricsRefused_));
    out.push_back(std::move(refused));
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
      if (!map || map->info(info) != 0) continue;
      addSample(capacity, {{"map", name}}, info.maxEntries);
      std::optional<double> count;
      if (name == maps::kServiceMap || name == maps::kServiceMetaMap) count = services;
      else if (name == maps::kBackendMap) count = backends;
      else if (name == maps::kSlotMap) count = slots;
      else if (info.type == BPF_MAP_TYPE_LRU_HASH || info.type == BPF_MAP_TYPE_HASH ||
               info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH || info.type == BPF_MAP_TYPE_PERCPU_HASH ||
               info.type == BPF_MAP_TYPE_LPM_TRIE)
        count = static_cast<double>(maps::countEntries(*map));
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
    collectServiceTraffic(datapath, out);
  }

  // bpx_svcstat: the Services annotated bpfproxy.io/metrics, per backend and path.
  static void collectServiceTraffic(const maps::DatapathMaps& datapath, std::vector<MetricFamily>& out) {
    auto connections = family("bpfproxy_service_connections_total",
                              "New connections (socket path) and flows (TC path) per Service and backend, "
                              "for Services annotated bpfproxy.io/metrics=true",
                              MetricType::Counter);
    auto packets = family("bpfproxy_service_packets_total",
                          "Packets from clients to backends per Service and backend (TC path), "
                          "for Services annotated bpfproxy.io/metrics=true",
                          MetricType::Counter);
    auto bytes = family("bpfproxy_service_bytes_total",
                        "Bytes from clients to backends per Service and backend (TC path), "
                        "for Services annotated bpfproxy.io/metrics=true",
                        MetricType::Counter);
    for (const auto& row : maps::readServiceTraffic(datapath)) {
      std::vector<ClientMetric::Label> labels{
          {"backend", row.backend}, {"name", row.name}, {"namespace", row.namespace_}, {"path", row.path}};
      addSample(connections, labels, static_cast<double>(row.connections));
      if (row.path == "socket") continue;  // the socket hooks see no packets
      addSample(packets, labels, static_cast<double>(row.packets));
      addSample(bytes, labels, static_cast<double>(row.bytes));
    }
    for (auto* f : {&connections, &packets, &bytes})
      if (!f->metric.empty()) out.push_back(std::move(*f));
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

std::shared_ptr<AgentMetrics::Collector> AgentMetrics::makeCollector(AgentMetrics& owner) {
  return std::make_shared<Collector>(owner);
}

std::shared_ptr<prometheus::Collectable> AgentMetrics::collector() const { return collector_; }

std::string AgentMetrics::render() const {
  auto families = registry_->Collect();
  auto more = collector_->Collect();
  families.insert(families.end(), more.begin(), more.end());
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace bpfproxy::controller
