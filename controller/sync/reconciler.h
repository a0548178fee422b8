#pragma once
// Makes the maps hold the desired frontends of each Service, writing only what changed.
// Order of writes, per frontend: backends, then the slots of the unused bank, then the
// service entry that flips to that bank, then the old bank and unused backends are
// removed. A socket connecting meanwhile sees the old backend set or the new one.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/model/desired_state.h"
#include "controller/model/drain_after.h"
#include "controller/model/slow_start.h"
#include "controller/sync/generation_source.h"
#include "controller/sync/id_allocator.h"
#include "controller/model/kube_objects.h"
#include "maps/datapath_snapshot.h"
#include "maps/datapath_writer.h"

namespace bpfproxy::controller {

struct ReconcileResult {
  size_t frontendsChanged = 0;
  size_t frontendsRemoved = 0;
  std::vector<std::string> errors;  // each names the frontend and the cause
  // apply(): the svc_id of each frontend the Service has programmed now (it keys the
  // per-service entries other maps hold, e.g. the source ranges NodeState writes).
  std::map<FrontendKey, uint32_t> serviceIds;
  std::set<std::string> fullMaps;    // maps a write found full (bpx_be_v1 ...)
  // Programmed all the same, e.g. without per-backend counters (--max-metrics-services).
  std::vector<std::string> warnings;
};

// --max-metrics-services: Services counted per backend (bpfproxy.io/metrics) at most.
inline constexpr uint32_t kDefaultMaxMetricsServices = 256;

class Reconciler {
public:
  Reconciler(maps::DatapathWriter& writer, uint32_t maxServices, uint32_t maxBackends);

  // After a restart: takes what the maps hold as programmed, so that applying the same
  // desired state writes nothing. Removes only debris of an interrupted update.
  ReconcileResult adopt(const maps::DatapathSnapshot& snapshot);
  // Forgets what it took as programmed, as if just made: when writes it was told had been
  // made did not all land (a failed batch), the caller adopts the maps again.
  void forgetAll();

  ReconcileResult apply(const ServiceKey& service, const std::vector<FrontendSpec>& frontends);

  // After a complete list: removes the services that no longer exist.
  ReconcileResult removeAllExcept(const std::set<ServiceKey>& live);

  std::set<ServiceKey> programmedServices() const;
  // True while a backend of the Service is in its slow-start window: apply() it again (each
  // second, say) so its share keeps growing.
  bool ramping(const ServiceKey& service) const;
  // True while a frontend of the Service waits out its drain-after window (drain_after.h):
  // apply() it again (each second, say) so it drains when the window ends.
  bool drainPending(const ServiceKey& service) const;
  // The clock slow start and drain-after read (tests give their own).
  void setClock(std::function<SteadyTime()> clock) { clock_ = std::move(clock); }
  // True when some frontend of the Service has at least one backend programmed.
  bool hasBackends(const ServiceKey& service) const;
  size_t frontendCount() const { return frontends_.size(); }
  // The svc_id a programmed frontend has (keys its per-service entries, e.g. source ranges).
  std::optional<uint32_t> serviceId(const FrontendKey& key) const {
    auto it = frontends_.find(key);
    if (it == frontends_.end()) return std::nullopt;
    return it->second.svcId;
  }
  size_t backendCount() const { return backends_.size(); }

  // bpfproxy.io/metrics: Services beyond `limit` are programmed without BPX_SVC_F_METRICS
  // (refused with a warning) until one counted goes; apply() a refused one again to retry.
  void setMetricsLimit(uint32_t limit) { metricsLimit_ = limit; }
  bool metricsRefused(const ServiceKey& service) const { return metricsRefused_.count(service) > 0; }
  size_t metricsRefusedCount() const { return metricsRefused_.size(); }
  size_t metricsServiceCount() const { return metricsAdmitted_.size(); }

  // Backends that no frontend lists any more, since the last call: sockets still connected
  // to them talk to nobody (the agent destroys them).
  struct RemovedBackend {
    IpAddress address;
    uint16_t port = 0;
    uint8_t proto = 0;
  };
  std::vector<RemovedBackend> takeRemovedBackends();

private:
  struct BackendIdentity {
    IpAddress address;
    uint16_t port;
    uint8_t proto;
    auto operator<=>(const BackendIdentity&) const = default;
  };
  struct ProgrammedBackend {
    uint32_t id = 0;
    uint32_t references = 0;
    bpx_backend value{};
  };
  struct ProgrammedFrontend {
    ServiceKey owner;
    uint32_t svcId = 0;
    bpx_svc_value value{};
    bpx_svc_meta meta{};
    std::vector<uint32_t> backendIds;  // slot order
    std::vector<uint32_t> tableIds;    // the slots after the backends (bpx_svc_value.table_size)
    std::map<uint32_t, SteadyTime> joined;  // slow start: backends still ramping up, since when
    std::optional<SteadyTime> fallbackSince;  // drain-after: only terminating backends since when
  };

  // Whether `test` holds for some frontend the Service has programmed.
  bool anyFrontend(const ServiceKey& service, const std::function<bool(const ProgrammedFrontend&)>& test) const;
  bool applyFrontend(const ServiceKey& owner, const FrontendSpec& spec, ReconcileResult& result);
  void removeFrontend(const FrontendKey& key, ReconcileResult& result);
  // Takes a reference on each backend, writing new or changed ones; false on a map error.
  bool acquireBackends(const std::vector<BackendSpec>& specs, std::vector<uint32_t>& ids,
                       std::string& error, std::set<std::string>& fullMaps);
  // "bpx_be_v1 is full (1024 entries): raise --max-backends", and the map noted as full.
  std::string mapFull(const char* map, std::set<std::string>& fullMaps) const;
  void releaseBackends(const std::vector<uint32_t>& ids);
  // bpfproxy.io/metrics (reconciler_metrics.cpp): whether the Service may be counted, and
  // what adopt() and a Service's end do to the admitted set and bpx_svcstat.
  bool admitMetrics(const ServiceKey& service, const std::vector<FrontendSpec>& frontends,
                    ReconcileResult& result);
  void forgetMetrics(const ServiceKey& service);
  void adoptServiceStats(const maps::DatapathSnapshot& snapshot);
  // Deletes the counters of the backends in `before` but not in `after` (svc_id stays).
  void dropServiceStats(uint32_t svcId, const std::vector<uint32_t>& before, const std::vector<uint32_t>& after);
  void deleteSlots(uint32_t svcId, uint8_t bank, size_t count);
  // Writes the backends, then the table, into one bank; on an error, deletes what it wrote.
  int putSlots(uint32_t svcId, uint8_t bank, const std::vector<uint32_t>& backendIds,
               const std::vector<uint32_t>& tableIds);

  maps::DatapathWriter& writer_;
  std::function<SteadyTime()> clock_ = [] { return std::chrono::steady_clock::now(); };
  uint32_t maxServices_;
  uint32_t maxBackends_;
  IdAllocator serviceIds_;
  IdAllocator backendIds_;
  GenerationSource generations_;
  std::map<FrontendKey, ProgrammedFrontend> frontends_;
  std::map<ServiceKey, std::set<FrontendKey>> byService_;
  std::map<BackendIdentity, ProgrammedBackend> backends_;
  std::map<uint32_t, BackendIdentity> backendsById_;
  std::set<BackendIdentity> removedBackends_;
  uint32_t metricsLimit_ = kDefaultMaxMetricsServices;
  std::set<ServiceKey> metricsAdmitted_;
  std::set<ServiceKey> metricsRefused_;
};

// Conversions between the model's types and the map structs.
bpx_svc_key toServiceKey(const FrontendKey& key);
FrontendKey toFrontendKey(const bpx_svc_key& key);
bpx_svc_meta toServiceMeta(const FrontendSpec& spec);
std::string describe(const FrontendKey& key);  // "10.32.0.140:80/TCP"

}  // namespace bpfproxy::controller
