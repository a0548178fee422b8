#include "maps/bpf_datapath_writer.h"

#include <bpf/bpf.h>

#include <algorithm>

#include "maps/map_names.h"

namespace bpfproxy::maps {

namespace {

constexpr size_t kChunk = 1024;

// A kernel without batch operations for the map type answers one of these at once
// (524 is the kernel's ENOTSUPP, which no userspace header defines).
bool batchUnsupported(int code) { return code == EINVAL || code == 524 || code == EOPNOTSUPP; }

}  // namespace

template <typename K, typename V>
int BpfDatapathWriter::put(const TypedMap<K, V>& map, Held<K, V>& held, const K& key, const V& value) {
  if (!holding_) return map.update(key, value);
  held.keys.push_back(key), held.values.push_back(value);
  return 0;
}

template <typename K, typename V>
int BpfDatapathWriter::remove(const TypedMap<K, V>& map, const K& key) {
  if (auto flushed = flush(); !flushed) deferredError_ = flushed;
  return map.erase(key);
}

int BpfDatapathWriter::putBackend(uint32_t id, const bpx_backend& backend) {
  return put(maps_.backends, backends_, id, backend);
}
int BpfDatapathWriter::putSlot(const bpx_slot_key& key, const bpx_slot_value& slot) {
  return put(maps_.slots, slots_, key, slot);
}
int BpfDatapathWriter::putMeta(uint32_t svcId, const bpx_svc_meta& meta) {
  return put(maps_.serviceMeta, meta_, svcId, meta);
}
int BpfDatapathWriter::putService(const bpx_svc_key& key, const bpx_svc_value& service) {
  return put(maps_.services, services_, key, service);
}
int BpfDatapathWriter::deleteBackend(uint32_t id) { return remove(maps_.backends, id); }
int BpfDatapathWriter::deleteSlot(const bpx_slot_key& key) { return remove(maps_.slots, key); }
int BpfDatapathWriter::deleteService(const bpx_svc_key& key) { return remove(maps_.services, key); }
int BpfDatapathWriter::deleteMeta(uint32_t svcId) { return remove(maps_.serviceMeta, svcId); }

int BpfDatapathWriter::deleteServiceStats(uint32_t svcId, uint32_t backendId) {
  if (!maps_.serviceStats.valid()) return 0;  // an older agent's datapath: nothing counted
  for (uint8_t path : {uint8_t{BPX_SVC_STATS_SOCKET}, uint8_t{BPX_SVC_STATS_TC}}) {
    bpx_svc_stats_key key{};
    key.svc_id = svcId;
    key.backend_id = backendId;
    key.path = path;
    if (int rc = remove(maps_.serviceStats, key); rc != 0) return rc;
  }
  return 0;
}

int BpfDatapathWriter::putGenerationFloor(uint32_t floor) {
  return maps_.generation.update(uint32_t{0}, bpx_generation{floor, 0});
}

void BpfDatapathWriter::beginBatch() {
  holding_ = true;
  deferredError_ = Status();
}

Status BpfDatapathWriter::endBatch() {
  Status flushed = flush();
  holding_ = false;
  if (!deferredError_) return deferredError_;
  return flushed;
}

Status BpfDatapathWriter::flush() {
  Status status;
  // In dependency order; the first failure stops the rest.
  if (status) status = write(maps_.backends, kBackendMap, backends_);
  if (status) status = write(maps_.slots, kSlotMap, slots_);
  if (status) status = write(maps_.serviceMeta, kServiceMetaMap, meta_);
  if (status) status = write(maps_.services, kServiceMap, services_);
  backends_.clear(), slots_.clear(), meta_.clear(), services_.clear();
  return status;
}

template <typename K, typename V>
Status BpfDatapathWriter::write(const TypedMap<K, V>& map, const char* name, Held<K, V>& held) {
  size_t done = 0;
  const size_t total = held.keys.size();
  while (done < total) {
    // In chunks: a signal (SIGTERM, SIGKILL) waits for the syscall to end, and a map that
    // grows in steps shows progress to whoever watches it.
    __u32 count = static_cast<__u32>(std::min<size_t>(total - done, kChunk));
    int rc = bpf_map_update_batch(map.fd(), &held.keys[done], &held.values[done], &count, nullptr);
    done += count;  // the kernel reports how many it wrote, also on an error
    if (count > 0) batchCalls_++, batchedElements_ += count;
    if (rc == 0) continue;
    int code = errno;
    if (count == 0 && batchUnsupported(code)) break;  // one element at a time below
    return systemError(std::string("writing ") + name, code);
  }
  for (; done < total; ++done)
    if (int rc = map.update(held.keys[done], held.values[done]); rc != 0)
      return systemError(std::string("writing ") + name, -rc);
  return {};
}

}  // namespace bpfproxy::maps
