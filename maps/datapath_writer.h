#pragma once
// The element writes the reconciler makes. An interface so the reconciler is tested
// against an in-memory datapath as well as real maps. Each call returns 0 or -errno.
#include "bpf/maps_abi.h"
#include "maps/datapath_maps.h"

namespace bpfproxy::maps {

class DatapathWriter {
public:
  virtual ~DatapathWriter() = default;
  virtual int putBackend(uint32_t id, const bpx_backend& backend) = 0;
  virtual int deleteBackend(uint32_t id) = 0;
  virtual int putSlot(const bpx_slot_key& key, const bpx_slot_value& slot) = 0;
  virtual int deleteSlot(const bpx_slot_key& key) = 0;
  virtual int putService(const bpx_svc_key& key, const bpx_svc_value& service) = 0;
  virtual int deleteService(const bpx_svc_key& key) = 0;
  virtual int putMeta(uint32_t svcId, const bpx_svc_meta& meta) = 0;
  virtual int deleteMeta(uint32_t svcId) = 0;
};

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

private:
  const DatapathMaps& maps_;
};

}  // namespace bpfproxy::maps
