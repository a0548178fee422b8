#pragma once
// The reconciler's writes (maps/datapath_writer.h) made to the pinned maps.
#include "maps/datapath_maps.h"
#include "maps/datapath_writer.h"

namespace bpfproxy::maps {

class BpfDatapathWriter : public DatapathWriter {
public:
  explicit BpfDatapathWriter(const DatapathMaps& maps) : maps_(maps) {}
  int putBackend(uint32_t id, const bpx_backend& backend) override {
    return maps_.backends.update(id, backend);
  }
  int deleteBackend(uint32_t id) override { return maps_.backends.erase(id); }
  int putSlot(const bpx_slot_key& key, const bpx_slot_value& slot) override {
    return maps_.slots.update(key, slot);
  }
  int deleteSlot(const bpx_slot_key& key) override { return maps_.slots.erase(key); }
  int putService(const bpx_svc_key& key, const bpx_svc_value& service) override {
    return maps_.services.update(key, service);
  }
  int deleteService(const bpx_svc_key& key) override { return maps_.services.erase(key); }
  int putMeta(uint32_t svcId, const bpx_svc_meta& meta) override {
    return maps_.serviceMeta.update(svcId, meta);
  }
  int deleteMeta(uint32_t svcId) override { return maps_.serviceMeta.erase(svcId); }
  int putGenerationFloor(uint32_t floor) override {
    return maps_.generation.update(uint32_t{0}, bpx_generation{floor, 0});
  }

private:
  const DatapathMaps& maps_;
};

}  // namespace bpfproxy::maps
