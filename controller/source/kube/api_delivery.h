#pragma once
// What the API source has delivered to its sink, and how a list or a watch event of one
// kind becomes sink calls: decoded, bad objects reported and skipped, the first full view
// closed with synced(). One sink call at a time, whichever thread delivers.
#include <map>
#include <mutex>
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
  void deliverList(ApiKind kind, const std::vector<web::json::value>& items);
  // One watch event (ADDED, MODIFIED, DELETED; others are ignored).
  void deliverEvent(ApiKind kind, const WatchEvent& event);

private:
  void deliverAllCachedLocked();

  const std::string nodeName_;
  ApiHealth& health_;
  SourceSink* sink_ = nullptr;

  // Guards the caches and every sink call.
  std::mutex mutex_;
  std::map<std::string, Service> services_;
  std::map<std::string, EndpointSlice> slices_;
  std::map<std::string, Node> nodes_;
  std::map<std::string, BypassPod> pods_;  // only the selected ones
  bool resyncOpen_ = false;  // resync() sent, synced() not yet (first sync only)
  bool listedServices_ = false;
  bool listedSlices_ = false;
};

}  // namespace bpfproxy::controller::kube
