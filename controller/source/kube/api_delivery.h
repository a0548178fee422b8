#pragma once
// How a list or a watch event of one kind from the API becomes sink calls: decoded, bad
// objects reported and skipped, each list one per-kind resync of the sink (the sink works
// out what is gone), the first full view closed with synced(). One sink call at a time,
// whichever thread delivers.
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "controller/source/kube/api_client.h"
#include "controller/source/kube/api_health.h"
#include "controller/source/kube/api_objects.h"
#include "controller/source/source.h"

namespace bpfproxy::controller::kube {

class ApiDelivery {
public:
  // nodeName: the node whose Pods are ours; health: where the first full view is marked.
  ApiDelivery(std::string nodeName, ApiHealth& health) : nodeName_(std::move(nodeName)), health_(health) {}

  void bind(SourceSink& sink) { sink_ = &sink; }
  // The whole list of one kind (a first list or a relist).
  void deliverList(ObjectKind kind, const std::vector<web::json::value>& items);
  // One watch event (ADDED, MODIFIED, DELETED; others are ignored).
  void deliverEvent(ObjectKind kind, const WatchEvent& event);

private:
  void deliverPodEvent(const std::string& key, const WatchEvent& event, bool deleted);
  void deleteObject(ObjectKind kind, const web::json::value& object);

  const std::string nodeName_;
  ApiHealth& health_;
  SourceSink* sink_ = nullptr;

  std::mutex mutex_;  // guards what follows and every sink call
  // The Pods delivered as ours: a Pod that stops bypassing is deleted, one never ours is not.
  std::set<std::string> pods_;
  bool listedServices_ = false;
  bool listedSlices_ = false;
};

}  // namespace bpfproxy::controller::kube
