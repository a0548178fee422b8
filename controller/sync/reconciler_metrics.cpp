// The reconciler's bpfproxy.io/metrics side: which Services get BPX_SVC_F_METRICS (at most
// --max-metrics-services, so the series stay bounded), and bpx_svcstat's entries deleted
// when a backend leaves a counted frontend or an id is released, so a reused id starts at 0.
#include <algorithm>

#include "controller/sync/reconciler.h"

namespace bpfproxy::controller {

bool Reconciler::admitMetrics(const ServiceKey& service, const std::vector<FrontendSpec>& frontends,
                              ReconcileResult& result) {
  const bool wanted = std::any_of(frontends.begin(), frontends.end(),
                                  [](const FrontendSpec& f) { return f.flags & BPX_SVC_F_METRICS; });
  if (!wanted) {
    forgetMetrics(service);
    return true;
  }
  if (metricsAdmitted_.count(service)) return true;
  if (metricsAdmitted_.size() < metricsLimit_) {
    metricsAdmitted_.insert(service);
    metricsRefused_.erase(service);
    return true;
  }
  // Warned once per refusal, not on every sync of the Service.
  if (metricsRefused_.insert(service).second)
    result.warnings.push_back(service.toString() + ": bpfproxy.io/metrics refused: " +
                              std::to_string(metricsLimit_) +
                              " Services are counted already (--max-metrics-services); programmed without counters");
  return false;
}

void Reconciler::forgetMetrics(const ServiceKey& service) {
  metricsAdmitted_.erase(service);
  metricsRefused_.erase(service);
}

void Reconciler::dropServiceStats(uint32_t svcId, const std::vector<uint32_t>& before,
                                  const std::vector<uint32_t>& after) {
  for (uint32_t id : before)
    if (std::find(after.begin(), after.end(), id) == after.end()) writer_.deleteServiceStats(svcId, id);
}

void Reconciler::adoptServiceStats(const maps::DatapathSnapshot& snapshot) {
  std::set<std::pair<uint32_t, uint32_t>> counted;  // (svc_id, backend_id) a flagged frontend lists
  for (const auto& [key, frontend] : frontends_) {
    if (!(frontend.value.flags & BPX_SVC_F_METRICS)) continue;
    if (!frontend.owner.name.empty()) metricsAdmitted_.insert(frontend.owner);
    for (uint32_t id : frontend.backendIds) counted.insert({frontend.svcId, id});
  }
  // Debris of a crash between a release and its delete: counts no frontend lists.
  std::set<std::pair<uint32_t, uint32_t>> stale;
  for (const auto& key : snapshot.serviceStats)
    if (!counted.count({key.svc_id, key.backend_id})) stale.insert({key.svc_id, key.backend_id});
  for (const auto& [svcId, backendId] : stale) writer_.deleteServiceStats(svcId, backendId);
}

}  // namespace bpfproxy::controller
