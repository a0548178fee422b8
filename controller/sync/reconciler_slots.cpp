// The reconciler's clean-up side: backend references given back and slot banks written or removed.
#include "controller/sync/reconciler.h"

namespace bpfproxy::controller {

void Reconciler::releaseBackends(const std::vector<uint32_t>& ids) {
  for (uint32_t id : ids) {
    auto byId = backendsById_.find(id);
    if (byId == backendsById_.end()) continue;
    auto it = backends_.find(byId->second);
    if (--it->second.references > 0) continue;
    writer_.deleteBackend(id);
    removedBackends_.insert(byId->second);
    backendIds_.release(id);
    backends_.erase(it);
    backendsById_.erase(byId);
  }
}

std::vector<Reconciler::RemovedBackend> Reconciler::takeRemovedBackends() {
  std::vector<RemovedBackend> removed;
  for (const auto& backend : removedBackends_)
    if (!backends_.count(backend)) removed.push_back({backend.address, backend.port, backend.proto});  // not back since
  removedBackends_.clear();
  return removed;
}

int Reconciler::putSlots(uint32_t svcId, uint8_t bank, const std::vector<uint32_t>& backendIds,
                         const std::vector<uint32_t>& tableIds) {
  const size_t count = backendIds.size() + tableIds.size();
  for (size_t i = 0; i < count; ++i) {
    bpx_slot_key slot{};
    slot.svc_id = svcId;
    slot.index = static_cast<uint16_t>(i);
    slot.bank = bank;
    uint32_t id = i < backendIds.size() ? backendIds[i] : tableIds[i - backendIds.size()];
    if (int rc = writer_.putSlot(slot, {id}); rc != 0) {
      deleteSlots(svcId, bank, i);
      return rc;
    }
  }
  return 0;
}

void Reconciler::deleteSlots(uint32_t svcId, uint8_t bank, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    bpx_slot_key slot{};
    slot.svc_id = svcId;
    slot.index = static_cast<uint16_t>(i);
    slot.bank = bank;
    writer_.deleteSlot(slot);
  }
}

}  // namespace bpfproxy::controller
