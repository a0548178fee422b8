#include "controller/source/kube/api_delivery.h"

#include <optional>

#include "controller/source/bypass_pods.h"
#include "controller/source/kube_decode.h"

namespace bpfproxy::controller::kube {

namespace {

// The node's Pods that bypass the socket hooks; the others are no error, only not ours.
// List items carry no kind/apiVersion (a real server leaves them out): decodeBypassPod
// wants them.
std::optional<BypassPod> decodePod(web::json::value object) {
  if (!object.is_object()) return std::nullopt;
  object["kind"] = web::json::value::string("Pod");
  object["apiVersion"] = web::json::value::string("v1");
  return decodeBypassPod(object);
}

void upsert(SourceSink& sink, Service service) { sink.upsertService(std::move(service)); }
void upsert(SourceSink& sink, EndpointSlice slice) { sink.upsertEndpointSlice(std::move(slice)); }
void upsert(SourceSink& sink, Node node) { sink.upsertNode(std::move(node)); }

// Decodes one object of a kind other than Pod and hands it to the sink; false, with the
// error reported by the object's name, when it does not decode.
bool upsertDecoded(ObjectKind kind, const web::json::value& object, SourceSink& sink) {
  auto deliver = [&](auto decoded) {
    if (!decoded) {
      sink.reportError(std::string("kubernetes API, ") + nameOf(kind) + " " + objectKey(object) + ": " +
                       decoded.error().message);
      return false;
    }
    upsert(sink, std::move(decoded).value());
    return true;
  };
  switch (kind) {
    case ObjectKind::Service: return deliver(decodeService(object));
    case ObjectKind::EndpointSlice: return deliver(decodeEndpointSlice(object));
    case ObjectKind::Node: return deliver(decodeNode(object));
    case ObjectKind::Pod: break;
  }
  return false;
}

}  // namespace

void ApiDelivery::deliverList(ObjectKind kind, const std::vector<web::json::value>& items) {
  std::lock_guard lock(mutex_);
  // Each kind is relisted on its own (a 410 Gone on its watch): the sink works out what of
  // that kind is gone, and the other kinds are not delivered again.
  sink_->resync(kind);
  if (kind == ObjectKind::Pod) {
    pods_.clear();
    for (const auto& item : items)
      if (auto pod = decodePod(item); pod && pod->nodeName == nodeName_) {
        pods_.insert(pod->key);
        sink_->upsertPod(*pod);
      }
  } else {
    for (const auto& item : items) upsertDecoded(kind, item, *sink_);
  }
  sink_->synced(kind);
  if (kind == ObjectKind::Service) listedServices_ = true;
  if (kind == ObjectKind::EndpointSlice) listedSlices_ = true;
  // Services and their slices make the first complete view; the Node and Pods do not hold it up.
  if (listedServices_ && listedSlices_ && !health_.stats().synced) {
    sink_->synced();
    health_.markSynced();
  }
}

void ApiDelivery::deliverEvent(ObjectKind kind, const WatchEvent& event) {
  const bool deleted = event.type == "DELETED";
  if (!deleted && event.type != "ADDED" && event.type != "MODIFIED") {
    return;  // unknown event types are ignored, as client-go does
  }
  std::lock_guard lock(mutex_);
  if (kind == ObjectKind::Pod) {
    deliverPodEvent(objectKey(event.object), event, deleted);
    return;
  }
  // An object that cannot be decoded is treated as absent, as a relist would.
  if (deleted || !upsertDecoded(kind, event.object, *sink_)) deleteObject(kind, event.object);
}

void ApiDelivery::deliverPodEvent(const std::string& key, const WatchEvent& event, bool deleted) {
  // A Pod no longer selected (label or annotation removed) is gone for us, as on a relist.
  auto pod = deleted ? std::nullopt : decodePod(event.object);
  if (pod && pod->nodeName == nodeName_) {
    pods_.insert(pod->key);
    sink_->upsertPod(*pod);
  } else if (pods_.erase(key)) {
    sink_->deletePod(key);
  }
}

void ApiDelivery::deleteObject(ObjectKind kind, const web::json::value& object) {
  const std::string namespace_ = metaString(object, "namespace"), name = metaString(object, "name");
  switch (kind) {
    case ObjectKind::Service: sink_->deleteService({namespace_, name}); break;
    case ObjectKind::EndpointSlice: sink_->deleteEndpointSlice(namespace_, name); break;
    case ObjectKind::Node: sink_->deleteNode(name); break;
    case ObjectKind::Pod: break;  // deliverPodEvent
  }
}

}  // namespace bpfproxy::controller::kube
