#pragma once
// An in-memory DatapathWriter: what the maps would hold, a log of every write in order,
// and capacities so tests can make a map run full.
#include <cstring>
#include <map>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include "maps/datapath_snapshot.h"
#include "maps/datapath_writer.h"

namespace bpfproxy::testing {

template <typename T>
struct BytesLess {
  bool operator()(const T& a, const T& b) const { return std::memcmp(&a, &b, sizeof(T)) < 0; }
};

class MemoryDatapath : public maps::DatapathWriter {
public:
  std::map<bpx_svc_key, bpx_svc_value, BytesLess<bpx_svc_key>> services;
  std::map<bpx_slot_key, bpx_slot_value, BytesLess<bpx_slot_key>> slots;
  std::map<uint32_t, bpx_backend> backends;
  std::map<uint32_t, bpx_svc_meta> metas;
  uint32_t generationFloor = 0;
  // bpx_svcstat's (svc_id, backend_id) pairs: tests put what the datapath would have counted.
  std::set<std::pair<uint32_t, uint32_t>> serviceStats;
  int generationFloorError = 0;  // set to -errno to make persisting the floor fail
  std::vector<std::string> log;  // "put backend 3", "put slot 1/0/1", "put service 1 gen 2", ...
  size_t backendCapacity = 1 << 20;

  int putBackend(uint32_t id, const bpx_backend& backend) override {
    if (!backends.count(id) && backends.size() >= backendCapacity) return -E2BIG;
    backends[id] = backend;
    log.push_back("put backend " + std::to_string(id));
    return 0;
  }
  int deleteBackend(uint32_t id) override {
    backends.erase(id);
    log.push_back("delete backend " + std::to_string(id));
    return 0;
  }
  int putSlot(const bpx_slot_key& key, const bpx_slot_value& slot) override {
    slots[key] = slot;
    log.push_back("put slot " + slotName(key));
    return 0;
  }
  int deleteSlot(const bpx_slot_key& key) override {
    slots.erase(key);
    log.push_back("delete slot " + slotName(key));
    return 0;
  }
  int putService(const bpx_svc_key& key, const bpx_svc_value& service) override {
    services[key] = service;
    log.push_back("put service " + std::to_string(service.svc_id) + " gen " +
                  std::to_string(service.generation) + " count " + std::to_string(service.backend_count));
    return 0;
  }
  int deleteService(const bpx_svc_key& key) override {
    auto it = services.find(key);
    log.push_back("delete service " + (it == services.end() ? std::string("?") : std::to_string(it->second.svc_id)));
    services.erase(key);
    return 0;
  }
  int putMeta(uint32_t svcId, const bpx_svc_meta& meta) override {
    metas[svcId] = meta;
    log.push_back("put meta " + std::to_string(svcId));
    return 0;
  }
  int putGenerationFloor(uint32_t floor) override {
    if (generationFloorError) return generationFloorError;
    generationFloor = floor;
    log.push_back("put generation floor " + std::to_string(floor));
    return 0;
  }
  int deleteServiceStats(uint32_t svcId, uint32_t backendId) override {
    serviceStats.erase({svcId, backendId});
    log.push_back("delete stats " + std::to_string(svcId) + "/" + std::to_string(backendId));
    return 0;
  }
  int deleteMeta(uint32_t svcId) override {
    metas.erase(svcId);
    log.push_back("delete meta " + std::to_string(svcId));
    return 0;
  }

  // What readSnapshot() would return from real maps holding the same entries.
  maps::DatapathSnapshot snapshot() const {
    maps::DatapathSnapshot out;
    for (const auto& [key, value] : services) {
      maps::SnapshotFrontend frontend{key, value, std::nullopt, {}, {}};
      if (auto meta = metas.find(value.svc_id); meta != metas.end()) frontend.meta = meta->second;
      frontend.backendIds.assign(value.backend_count, 0);
      frontend.tableIds.assign(value.table_size, 0);
      out.frontends.push_back(frontend);
    }
    for (const auto& [key, slot] : slots) {
      bool placed = false;
      for (auto& frontend : out.frontends)
        if (frontend.value.svc_id == key.svc_id && key.bank == (frontend.value.generation & 1) &&
            key.index < frontend.value.backend_count + frontend.value.table_size) {
          if (key.index < frontend.value.backend_count) frontend.backendIds[key.index] = slot.backend_id;
          else frontend.tableIds[key.index - frontend.value.backend_count] = slot.backend_id;
          placed = true;
        }
      if (!placed) out.staleSlots.push_back(key);
    }
    out.backends.insert(backends.begin(), backends.end());
    out.generationFloor = generationFloor;
    for (const auto& [svcId, backendId] : serviceStats)
      for (uint8_t path : {uint8_t{BPX_SVC_STATS_SOCKET}, uint8_t{BPX_SVC_STATS_TC}})
        out.serviceStats.push_back({svcId, backendId, path, {}});
    return out;
  }

  // The backends a connecting socket can get for a frontend, as "addr:port" strings.
  std::vector<std::string> reachable(const bpx_svc_key& key) const {
    std::vector<std::string> out;
    auto svc = services.find(key);
    if (svc == services.end()) return out;
    for (uint16_t i = 0; i < svc->second.backend_count; ++i) {
      bpx_slot_key slotKey{};
      slotKey.svc_id = svc->second.svc_id;
      slotKey.index = i;
      slotKey.bank = svc->second.generation & 1;
      auto slot = slots.find(slotKey);
      if (slot == slots.end()) { out.push_back("missing slot"); continue; }
      auto backend = backends.find(slot->second.backend_id);
      if (backend == backends.end()) { out.push_back("missing backend"); continue; }
      out.push_back(formatEndpoint(maps::addressOf(backend->second.addr), maps::hostPort(backend->second.port)));
    }
    return out;
  }

private:
  static std::string slotName(const bpx_slot_key& key) {
    return std::to_string(key.svc_id) + "/" + std::to_string(key.index) + "/" + std::to_string(key.bank);
  }
};

}  // namespace bpfproxy::testing
