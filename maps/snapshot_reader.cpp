#include "maps/snapshot_reader.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace bpfproxy::maps {

DatapathSnapshot readSnapshot(const DatapathMaps& maps) {
  DatapathSnapshot snapshot;
  std::map<uint32_t, size_t> byId;  // svc_id -> index in frontends
  maps.services.forEach([&](const bpx_svc_key& key, const bpx_svc_value& value) {
    snapshot.frontends.push_back({key, value, std::nullopt, {}, {}});
    return true;
  });
  std::sort(snapshot.frontends.begin(), snapshot.frontends.end(),
            [](const SnapshotFrontend& a, const SnapshotFrontend& b) {
              return std::memcmp(&a.key, &b.key, sizeof(a.key)) < 0;
            });
  for (size_t i = 0; i < snapshot.frontends.size(); ++i) {
    auto& frontend = snapshot.frontends[i];
    byId[frontend.value.svc_id] = i;
    frontend.backendIds.assign(frontend.value.backend_count, 0);
    frontend.tableIds.assign(frontend.value.table_size, 0);
    bpx_svc_meta meta{};
    if (maps.serviceMeta.lookup(frontend.value.svc_id, meta) == 0) frontend.meta = meta;
  }
  maps.slots.forEach([&](const bpx_slot_key& key, const bpx_slot_value& slot) {
    auto it = byId.find(key.svc_id);
    if (it == byId.end()) {
      snapshot.staleSlots.push_back(key);
      return true;
    }
    auto& frontend = snapshot.frontends[it->second];
    const auto& value = frontend.value;
    bool active = key.bank == (value.generation & 1) && key.index < value.backend_count + value.table_size;
    if (active && key.index < value.backend_count)
      frontend.backendIds[key.index] = slot.backend_id;
    else if (active)
      frontend.tableIds[key.index - value.backend_count] = slot.backend_id;
    else
      snapshot.staleSlots.push_back(key);
    return true;
  });
  maps.backends.forEach([&](const uint32_t& id, const bpx_backend& b) {
    snapshot.backends[id] = b;
    return true;
  });
  if (maps.serviceStats.valid())
    maps.serviceStats.forEachKey([&](const bpx_svc_stats_key& key) {
      snapshot.serviceStats.push_back(key);
      return true;
    });
  bpx_generation generation{};
  if (maps.generation.lookup(uint32_t{0}, generation) == 0) snapshot.generationFloor = generation.floor;
  return snapshot;
}

}  // namespace bpfproxy::maps
