#pragma once
// The element writes the reconciler makes. An interface so the reconciler is tested
// against an in-memory datapath as well as real maps. Each call returns 0 or -errno.
#include <cstdint>

#include "bpf/maps_abi.h"

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
  virtual int putGenerationFloor(uint32_t floor) = 0;
  // Both paths' bpx_svcstat entries of a (frontend, backend) pair, so that a reused id
  // starts from zero.
  virtual int deleteServiceStats(uint32_t svcId, uint32_t backendId) = 0;
};

}  // namespace bpfproxy::maps
