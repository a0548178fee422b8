#pragma once
// What the sources have delivered: Services, EndpointSlices and this node's zone, with the
// set of Services whose frontends must be rebuilt. Sources write from their own threads;
// the agent loop reads.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/source/source.h"

namespace bpfproxy::controller {

// A Service to rebuild, with the earliest time one of its pending changes was made (the
// slice annotation endpoints.kubernetes.io/last-change-trigger-time, else arrival): the
// start of kube-proxy's network-programming latency.
struct DirtyService {
  ServiceKey key;
  std::chrono::system_clock::time_point triggerTime;
};

// Monotonic, for sync_proxy_rules_{service,endpoint}_changes_total.
struct ChangeCounters {
  uint64_t serviceChanges = 0;
  uint64_t endpointChanges = 0;
};

class ClusterStore : public SourceSink {
public:
  // Only the Node called nodeName matters: its zone drives topology-aware routing.
  explicit ClusterStore(std::string nodeName);

  void upsertService(Service service) override;
  void deleteService(const ServiceKey& key) override;
  void upsertEndpointSlice(EndpointSlice slice) override;
  void deleteEndpointSlice(const std::string& namespace_, const std::string& name) override;
  void upsertNode(Node node) override;
  void deleteNode(const std::string& name) override;
  void upsertPod(const BypassPod& pod) override;
  void deletePod(const std::string& key) override;
  void resync() override;
  void synced() override;
  void resync(ObjectKind kind) override;
  void synced(ObjectKind kind) override;
  void reportError(const std::string& message) override;

  // True once a complete view has been delivered: before it, deletions are unsafe.
  bool hasSynced() const;
  // The Services changed since the last call, sorted by key; clears the set.
  std::vector<DirtyService> takeDirty();
  // Blocks until a Service is dirty, wakeUp() is called, or the timeout passes; true when
  // something is dirty.
  bool waitForChange(std::chrono::milliseconds timeout);
  void wakeUp();  // e.g. at shutdown
  // Blocks until the first complete view has been delivered, wakeUp() or the timeout.
  void waitForSynced(std::chrono::milliseconds timeout);

  std::optional<Service> service(const ServiceKey& key) const;
  std::vector<ServiceKey> serviceKeys() const;
  // The slices labelled for the Service, sorted by name.
  std::vector<EndpointSlice> slicesFor(const ServiceKey& key) const;
  std::string nodeZone() const;
  // kube-proxy's nodeEligible for this node: true until its Node says it is going away.
  bool nodeEligible() const;
  // This node's Pods bypassing the socket hooks, sorted by key; read by the TC agent's rescan.
  std::vector<BypassPod> bypassPods() const;
  std::vector<std::string> takeErrors();
  ChangeCounters counters() const;

private:
  using Clock = std::chrono::system_clock;
  using SliceName = std::pair<std::string, std::string>;  // namespace, name

  void markDirty(const ServiceKey& key, Clock::time_point when);
  void markAllDirty(Clock::time_point when);
  void removeSlice(const SliceName& name, Clock::time_point when);
  void setZone(const std::string& zone);
  bool resyncing(ObjectKind kind) const { return resyncing_.contains(kind); }
  void beginResync(ObjectKind kind);
  void endResync(ObjectKind kind, Clock::time_point now);  // removes what was not seen

  const std::string nodeName_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool woken_ = false;

  std::map<ServiceKey, Service> services_;
  std::map<SliceName, EndpointSlice> slices_;
  std::map<ServiceKey, std::set<SliceName>> slicesByService_;
  std::optional<Node> node_;  // ours, once delivered
  std::string zone_;
  std::map<std::string, BypassPod> pods_;  // by namespace/name

  std::map<ServiceKey, Clock::time_point> dirty_;
  std::vector<std::string> errors_;
  ChangeCounters counters_;

  // Between resync(kind) and synced(kind) (or resync() and synced() for every kind): what
  // was delivered, so the rest can be deleted.
  std::set<ObjectKind> resyncing_;
  bool synced_ = false;
  std::set<ServiceKey> seenServices_;
  std::set<SliceName> seenSlices_;
  bool seenNode_ = false;
  std::set<std::string> seenPods_;
};

}  // namespace bpfproxy::controller
