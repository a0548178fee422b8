#include "controller/sync/reconciler.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "controller/model/lb_table.h"
#include "maps/map_names.h"

namespace bpfproxy::controller {

namespace {

template <size_t N>
void copyName(char (&out)[N], const std::string& in) {
  std::memset(out, 0, N);
  std::memcpy(out, in.data(), std::min(in.size(), N - 1));
}

bpx_backend toBackendValue(const BackendSpec& spec) {
  bpx_backend value{};
  std::memcpy(value.addr, spec.address.bytes().data(), 16);
  value.port = htons(spec.port);
  value.proto = spec.proto;
  value.state = spec.state;
  value.flags = spec.local ? BPX_BACKEND_F_LOCAL : 0;
  return value;
}

std::string errnoText(int rc) { return std::strerror(-rc); }

// What a full BPF hash map answers to an insert.
bool isFull(int rc) { return rc == -E2BIG || rc == -ENOSPC; }

}  // namespace

bpx_svc_key toServiceKey(const FrontendKey& key) {
  bpx_svc_key out{};
  std::memcpy(out.addr, key.address.bytes().data(), 16);
  out.port = htons(key.port);
  out.proto = key.proto;
  out.scope = key.scope;
  return out;
}

FrontendKey toFrontendKey(const bpx_svc_key& key) {
  return {maps::addressOf(key.addr), ntohs(key.port), key.proto, key.scope};
}

bpx_svc_meta toServiceMeta(const FrontendSpec& spec) {
  bpx_svc_meta meta{};
  copyName(meta.namespace_, spec.namespace_);
  copyName(meta.name, spec.name);
  copyName(meta.port_name, spec.portName);
  meta.type = spec.type;
  return meta;
}

std::string describe(const FrontendKey& key) {
  return formatEndpoint(key.address, key.port) + "/" + maps::protocolName(key.proto) +
         (key.scope == BPX_SVC_SCOPE_INTERNAL ? " (in-cluster)" : "");
}

Reconciler::Reconciler(maps::DatapathWriter& writer, uint32_t maxServices, uint32_t maxBackends)
    : writer_(writer), maxServices_(maxServices), maxBackends_(maxBackends),
      serviceIds_(maxServices), backendIds_(maxBackends) {}

std::string Reconciler::mapFull(const char* map, std::set<std::string>& fullMaps) const {
  fullMaps.insert(map);
  const std::string name = map;
  bool services = name == maps::kServiceMap || name == maps::kServiceMetaMap;
  uint32_t capacity = services ? maxServices_ : maxBackends_;
  if (name == maps::kSlotMap) capacity *= BPX_SLOTS_PER_BACKEND;
  return name + " is full (" + std::to_string(capacity) + " entries): raise " +
         (services ? "--max-services" : "--max-backends");
}

ReconcileResult Reconciler::adopt(const maps::DatapathSnapshot& snapshot) {
  ReconcileResult result;
  std::set<uint32_t> referenced;
  for (const auto& frontend : snapshot.frontends)
    referenced.insert(frontend.backendIds.begin(), frontend.backendIds.end());
  for (const auto& [id, value] : snapshot.backends) {
    BackendIdentity identity{maps::addressOf(value.addr), ntohs(value.port), value.proto};
    if (!referenced.count(id) || backends_.count(identity)) {
      writer_.deleteBackend(id);  // debris of an interrupted update
      continue;
    }
    backends_[identity] = {id, 0, value};
    backendsById_[id] = identity;
    backendIds_.claim(id);
  }
  for (const auto& frontend : snapshot.frontends) {
    FrontendKey key = toFrontendKey(frontend.key);
    ProgrammedFrontend programmed;
    // A frontend without identity cannot belong to any Service: removed at the first sync.
    if (frontend.meta)
      programmed.owner = {frontend.meta->namespace_, frontend.meta->name};
    programmed.svcId = frontend.value.svc_id;
    programmed.value = frontend.value;
    programmed.meta = frontend.meta.value_or(bpx_svc_meta{});
    programmed.backendIds = frontend.backendIds;
    programmed.tableIds = frontend.tableIds;
    for (uint32_t id : programmed.backendIds) {
      auto it = backendsById_.find(id);
      if (it != backendsById_.end()) backends_[it->second].references++;
    }
    serviceIds_.claim(programmed.svcId);
    byService_[programmed.owner].insert(key);
    frontends_[key] = std::move(programmed);
  }
  // Debris of an update that a crash interrupted: nothing references it.
  for (const auto& slot : snapshot.staleSlots) writer_.deleteSlot(slot);
  uint32_t highest = 0;
  for (const auto& frontend : snapshot.frontends) highest = std::max(highest, frontend.value.generation);
  generations_.resume(snapshot.generationFloor, highest);
  adoptServiceStats(snapshot);
  return result;
}

void Reconciler::forgetAll() {
  serviceIds_ = IdAllocator(maxServices_);
  backendIds_ = IdAllocator(maxBackends_);
  generations_ = GenerationSource();  // resumed by adopt() from the persisted floor
  frontends_.clear();
  byService_.clear();
  backends_.clear();
  backendsById_.clear();
  metricsAdmitted_.clear();
  metricsRefused_.clear();
}

ReconcileResult Reconciler::apply(const ServiceKey& service,
                                  const std::vector<FrontendSpec>& frontends) {
  ReconcileResult result;
  std::set<FrontendKey> wanted;
  const bool counted = admitMetrics(service, frontends, result);
  for (const auto& spec : frontends) {
    if (!counted && (spec.flags & BPX_SVC_F_METRICS)) {
      FrontendSpec uncounted = spec;
      uncounted.flags = static_cast<uint16_t>(spec.flags & ~BPX_SVC_F_METRICS);
      applyFrontend(service, uncounted, result);
    } else {
      applyFrontend(service, spec, result);
    }
    wanted.insert(spec.key);  // a failed update keeps what the frontend had
  }
  auto owned = byService_.find(service);
  if (owned != byService_.end()) {
    std::vector<FrontendKey> gone;
    for (const auto& key : owned->second)
      if (!wanted.count(key)) gone.push_back(key);
    for (const auto& key : gone) removeFrontend(key, result);
  }
  if (auto now = byService_.find(service); now != byService_.end())
    for (const auto& key : now->second) result.serviceIds[key] = frontends_.at(key).svcId;
  return result;
}

ReconcileResult Reconciler::removeAllExcept(const std::set<ServiceKey>& live) {
  ReconcileResult result;
  std::vector<FrontendKey> gone;
  for (const auto& [owner, keys] : byService_)
    if (!live.count(owner)) gone.insert(gone.end(), keys.begin(), keys.end());
  for (const auto& key : gone) removeFrontend(key, result);
  return result;
}

std::set<ServiceKey> Reconciler::programmedServices() const {
  std::set<ServiceKey> services;
  for (const auto& [owner, keys] : byService_)
    if (!keys.empty()) services.insert(owner);
  return services;
}

bool Reconciler::anyFrontend(const ServiceKey& service,
                             const std::function<bool(const ProgrammedFrontend&)>& test) const {
  auto owned = byService_.find(service);
  if (owned == byService_.end()) return false;
  for (const auto& key : owned->second)
    if (test(frontends_.at(key))) return true;
  return false;
}

bool Reconciler::ramping(const ServiceKey& service) const {
  return anyFrontend(service, [](const ProgrammedFrontend& f) { return !f.joined.empty(); });
}

bool Reconciler::drainPending(const ServiceKey& service) const {
  return anyFrontend(service, [](const ProgrammedFrontend& f) {
    return controller::drainPending(f.fallbackSince, f.value.flags & BPX_SVC_F_DRAINED);
  });
}

bool Reconciler::hasBackends(const ServiceKey& service) const {
  return anyFrontend(service, [](const ProgrammedFrontend& f) { return !f.backendIds.empty(); });
}

bool Reconciler::applyFrontend(const ServiceKey& owner, const FrontendSpec& spec,
                               ReconcileResult& result) {
  auto found = frontends_.find(spec.key);
  // What is programmed for this frontend now; null for a new one.
  const ProgrammedFrontend* previous = found != frontends_.end() ? &found->second : nullptr;
  if (previous && previous->owner != owner && byService_.count(previous->owner) &&
      !previous->owner.name.empty()) {
    result.errors.push_back(describe(spec.key) + " of " + owner.toString() +
                            " is already used by " + previous->owner.toString() +
                            ": skipped");
    return false;
  }
  if (spec.backends.size() > BPX_MAX_BACKENDS_PER_SERVICE) {
    result.errors.push_back(describe(spec.key) + " of " + owner.toString() + " has " +
                            std::to_string(spec.backends.size()) + " backends, more than " +
                            std::to_string(BPX_MAX_BACKENDS_PER_SERVICE) + ": skipped");
    return false;
  }
  std::vector<uint32_t> ids;
  std::string error;
  if (!acquireBackends(spec.backends, ids, error, result.fullMaps)) {
    result.errors.push_back(describe(spec.key) + " of " + owner.toString() + ": " + error);
    return false;
  }

  // The algorithm's table, as backend ids (Maglev keeps its size while backends go).
  std::vector<uint32_t> tableIds;
  const bool wasMaglev = previous && previous->value.algorithm == BPX_LB_MAGLEV;
  std::map<uint32_t, SteadyTime> joined;
  if (previous) joined = previous->joined;
  std::optional<SteadyTime> fallbackSince;
  if (previous) fallbackSince = previous->fallbackSince;
  const bool drained =
      drainedNow(spec, previous && (previous->value.flags & BPX_SVC_F_DRAINED), fallbackSince, clock_());
  FrontendSpec weighed =
      slowStartWeights(spec, ids, previous ? &previous->backendIds : nullptr, joined, clock_());
  for (uint16_t index : lookupTable(weighed, wasMaglev ? previous->value.table_size : 0))
    tableIds.push_back(ids[index]);
  if (ids.size() + tableIds.size() > BPX_MAX_BACKENDS_PER_SERVICE) {
    releaseBackends(ids);
    result.errors.push_back(describe(spec.key) + " of " + owner.toString() + ": " +
                            std::to_string(ids.size()) + " backends and a table of " +
                            std::to_string(tableIds.size()) + " slots exceed " +
                            std::to_string(BPX_MAX_BACKENDS_PER_SERVICE) + " slots (lower the weights): skipped");
    return false;
  }

  ProgrammedFrontend next;
  if (previous) {
    next = *previous;
    if (next.owner != owner) {  // taken over from an orphan left by an older agent
      auto previousOwner = byService_.find(next.owner);
      if (previousOwner != byService_.end()) {
        previousOwner->second.erase(spec.key);
        if (previousOwner->second.empty()) byService_.erase(previousOwner);
      }
    }
  } else {
    auto id = serviceIds_.allocate();
    if (!id) {
      releaseBackends(ids);
      result.errors.push_back(describe(spec.key) + " of " + owner.toString() + ": " +
                              mapFull(maps::kServiceMap, result.fullMaps));
      return false;
    }
    next.svcId = *id;
    next.value.svc_id = *id;
  }
  next.owner = owner;
  bool backendsChanged = !previous || next.backendIds != ids || next.tableIds != tableIds;
  bpx_svc_value value = next.value;
  value.flags = static_cast<uint16_t>(spec.flags | (drained ? BPX_SVC_F_DRAINED : 0));
  value.affinity_timeout = spec.affinityTimeoutSeconds;
  value.algorithm = spec.algorithm;
  if (backendsChanged) {
    std::optional<uint32_t> current;
    if (previous) current = next.value.generation;
    auto generation = generations_.next(current, writer_);
    if (!generation) {
      releaseBackends(ids);
      if (!previous) serviceIds_.release(next.svcId);
      result.errors.push_back(describe(spec.key) + " of " + owner.toString() + ": " + generation.error().message);
      return false;
    }
    value.generation = *generation;
    value.backend_count = static_cast<uint16_t>(ids.size());
    value.table_size = static_cast<uint16_t>(tableIds.size());
  }
  bpx_svc_meta meta = toServiceMeta(spec);
  bool metaChanged = !previous || std::memcmp(&meta, &next.meta, sizeof(meta));
  bool valueChanged = !previous || std::memcmp(&value, &next.value, sizeof(value));

  auto fail = [&](const std::string& what, const char* map, int rc) {
    releaseBackends(ids);
    if (!previous) serviceIds_.release(next.svcId);
    result.errors.push_back(describe(spec.key) + " of " + owner.toString() + ": " + what + ": " +
                            (isFull(rc) ? mapFull(map, result.fullMaps) : errnoText(rc)));
    return false;
  };

  uint8_t newBank = value.generation & 1;
  const size_t slotCount = ids.size() + tableIds.size();
  if (backendsChanged) {
    if (int rc = putSlots(next.svcId, newBank, ids, tableIds); rc != 0)
      return fail("writing backend slots", maps::kSlotMap, rc);
  }
  if (metaChanged) {
    if (int rc = writer_.putMeta(next.svcId, meta); rc != 0) {
      if (backendsChanged) deleteSlots(next.svcId, newBank, slotCount);
      return fail("writing service metadata", maps::kServiceMetaMap, rc);
    }
  }
  if (valueChanged) {
    if (int rc = writer_.putService(toServiceKey(spec.key), value); rc != 0) {
      if (backendsChanged) deleteSlots(next.svcId, newBank, slotCount);
      if (!previous) writer_.deleteMeta(next.svcId);
      return fail("writing the service entry", maps::kServiceMap, rc);
    }
  }
  // Switched: what the old generation used can go.
  std::vector<uint32_t> previousIds = previous ? next.backendIds : std::vector<uint32_t>{};
  if (previous && (next.value.flags & BPX_SVC_F_METRICS))
    dropServiceStats(next.svcId, previousIds, (value.flags & BPX_SVC_F_METRICS) ? ids : std::vector<uint32_t>{});
  if (backendsChanged && previous)
    deleteSlots(next.svcId, next.value.generation & 1, next.backendIds.size() + next.tableIds.size());
  next.value = value;
  next.meta = meta;
  next.backendIds = ids;
  next.tableIds = std::move(tableIds);
  next.joined = std::move(joined);
  next.fallbackSince = fallbackSince;
  frontends_[spec.key] = next;
  byService_[owner].insert(spec.key);
  releaseBackends(previousIds);
  if (backendsChanged || valueChanged || metaChanged) result.frontendsChanged++;
  return true;
}

void Reconciler::removeFrontend(const FrontendKey& key, ReconcileResult& result) {
  auto it = frontends_.find(key);
  if (it == frontends_.end()) return;
  const auto& programmed = it->second;
  if (int rc = writer_.deleteService(toServiceKey(key)); rc != 0) {
    result.errors.push_back("removing " + describe(key) + ": " + errnoText(rc));
    return;
  }
  deleteSlots(programmed.svcId, programmed.value.generation & 1,
              programmed.backendIds.size() + programmed.tableIds.size());
  writer_.deleteMeta(programmed.svcId);
  if (programmed.value.flags & BPX_SVC_F_METRICS) dropServiceStats(programmed.svcId, programmed.backendIds, {});
  releaseBackends(programmed.backendIds);
  serviceIds_.release(programmed.svcId);
  auto owned = byService_.find(programmed.owner);
  if (owned != byService_.end()) {
    owned->second.erase(key);
    if (owned->second.empty()) {
      forgetMetrics(programmed.owner);
      byService_.erase(owned);
    }
  }
  frontends_.erase(it);
  result.frontendsRemoved++;
}

bool Reconciler::acquireBackends(const std::vector<BackendSpec>& specs,
                                 std::vector<uint32_t>& ids, std::string& error,
                                 std::set<std::string>& fullMaps) {
  for (const auto& spec : specs) {
    BackendIdentity identity{spec.address, spec.port, spec.proto};
    bpx_backend value = toBackendValue(spec);
    auto it = backends_.find(identity);
    if (it == backends_.end()) {
      auto id = backendIds_.allocate();
      if (!id) {
        error = mapFull(maps::kBackendMap, fullMaps);
        releaseBackends(ids);
        return false;
      }
      if (int rc = writer_.putBackend(*id, value); rc != 0) {
        backendIds_.release(*id);
        error = "writing backend " + formatEndpoint(spec.address, spec.port) + ": " +
                (isFull(rc) ? mapFull(maps::kBackendMap, fullMaps) : errnoText(rc));
        releaseBackends(ids);
        return false;
      }
      it = backends_.emplace(identity, ProgrammedBackend{*id, 0, value}).first;
      backendsById_[*id] = identity;
    } else if (std::memcmp(&it->second.value, &value, sizeof(value)) != 0) {
      // State or locality changed: the same backend, updated in place.
      if (int rc = writer_.putBackend(it->second.id, value); rc == 0) it->second.value = value;
    }
    it->second.references++;
    ids.push_back(it->second.id);
  }
  return true;
}

}  // namespace bpfproxy::controller
