#pragma once
// The reconciler's writes (maps/datapath_writer.h) made to the pinned maps, one syscall per
// element, or held between beginBatch() and endBatch() and written with one
// BPF_MAP_UPDATE_BATCH per map: the agent's first sync writes about 23 elements per
// Service, and a syscall each was most of its time.
#include <cstdint>
#include <vector>

#include "base/result.h"
#include "maps/datapath_maps.h"
#include "maps/datapath_writer.h"

namespace bpfproxy::maps {

class BpfDatapathWriter : public DatapathWriter {
public:
  explicit BpfDatapathWriter(const DatapathMaps& maps) : maps_(maps) {}

  int putBackend(uint32_t id, const bpx_backend& backend) override;
  int deleteBackend(uint32_t id) override;
  int putSlot(const bpx_slot_key& key, const bpx_slot_value& slot) override;
  int deleteSlot(const bpx_slot_key& key) override;
  int putService(const bpx_svc_key& key, const bpx_svc_value& service) override;
  int deleteService(const bpx_svc_key& key) override;
  int putMeta(uint32_t svcId, const bpx_svc_meta& meta) override;
  int deleteMeta(uint32_t svcId) override;
  int putGenerationFloor(uint32_t floor) override;  // never held: it must precede its use
  int deleteServiceStats(uint32_t svcId, uint32_t backendId) override;

  // From here puts are held (and answer 0). The held puts are written in dependency order,
  // backends, slots, metadata, then service entries, so a service entry never names a slot
  // or backend that is not there yet. A delete first writes what is held, so every delete
  // lands in the reconciler's order relative to the puts before and after it.
  void beginBatch();
  // Writes what is held and stops holding. On an error nothing after the failing map is
  // written (no service entry of this batch, if a slot failed) and the error names the map:
  // the caller must then re-read the maps, since what it was told was written was not.
  Status endBatch();
  // Elements written by BPF_MAP_UPDATE_BATCH so far, and the batch calls that made them.
  uint64_t batchedElements() const { return batchedElements_; }
  uint64_t batchCalls() const { return batchCalls_; }

private:
  template <typename K, typename V>
  struct Held {
    std::vector<K> keys;
    std::vector<V> values;
    void clear() { keys = {}, values = {}; }  // and the memory: a first sync holds megabytes
  };
  // A put held while batching, else written; a delete after what is held.
  template <typename K, typename V>
  int put(const TypedMap<K, V>& map, Held<K, V>& held, const K& key, const V& value);
  template <typename K, typename V>
  int remove(const TypedMap<K, V>& map, const K& key);
  Status flush();
  template <typename K, typename V>
  Status write(const TypedMap<K, V>& map, const char* name, Held<K, V>& held);

  const DatapathMaps& maps_;
  bool holding_ = false;
  Held<uint32_t, bpx_backend> backends_;
  Held<bpx_slot_key, bpx_slot_value> slots_;
  Held<uint32_t, bpx_svc_meta> meta_;
  Held<bpx_svc_key, bpx_svc_value> services_;
  Status deferredError_;  // a flush forced by a delete that failed; reported by endBatch()
  uint64_t batchedElements_ = 0, batchCalls_ = 0;
};

}  // namespace bpfproxy::maps
