#include "controller/source/kube/api_delivery.h"

#include <optional>

#include "controller/source/bypass_pods.h"
#include "controller/source/kube_decode.h"

namespace bpfproxy::controller::kube {

void ApiDelivery::deliverAllCachedLocked() {
  for (const auto& [key, service] : services_) {
    sink_->upsertService(service);
  }
  for (const auto& [key, slice] : slices_) {
    sink_->upsertEndpointSlice(slice);
  }
  for (const auto& [key, node] : nodes_) {
    sink_->upsertNode(node);
  }
  for (const auto& [key, pod] : pods_) {
    sink_->upsertPod(pod);
  }
}

namespace {

// Decodes a list into a keyed map, reporting (and skipping) what cannot be decoded.
template <typename T, typename Decode>
std::map<std::string, T> decodeAll(const std::vector<web::json::value>& items, Decode decode, const char* kind,
                                   SourceSink& sink) {
  std::map<std::string, T> decoded;
  for (const auto& item : items) {
    Decoded<T> result = decode(item);
    if (result.object) {
      decoded.emplace(objectKey(item), std::move(*result.object));
    } else {
      sink.reportError(std::string("kubernetes API, ") + kind + " " + objectKey(item) + ": " + result.error);
    }
  }
  return decoded;
}

// The node's Pods that bypass the socket hooks; the others are no error, only not ours.
// List items carry no kind/apiVersion (a real server leaves them out): decodeBypassPod
// wants them.
std::optional<BypassPod> decodePod(web::json::value object) {
  if (!object.is_object()) return std::nullopt;
  object["kind"] = web::json::value::string("Pod");
  object["apiVersion"] = web::json::value::string("v1");
  return decodeBypassPod(object);
}

std::map<std::string, BypassPod> decodePods(const std::vector<web::json::value>& items, const std::string& nodeName) {
  std::map<std::string, BypassPod> decoded;
  for (const auto& item : items) {
    if (auto pod = decodePod(item); pod && pod->nodeName == nodeName) {
      decoded.emplace(pod->key, std::move(*pod));
    }
  }
  return decoded;
}

}  // namespace

void ApiDelivery::deliverList(ApiKind kind, const std::vector<web::json::value>& items) {
  std::lock_guard lock(mutex_);
  const bool firstSyncDone = health_.stats().synced;
  // Before the first full view, deliver the difference directly inside one resync()
  // window; afterwards a relist of one kind re-delivers all kinds (the sink diffs per
  // window, not per kind).
  if (!firstSyncDone && !resyncOpen_) {
    sink_->resync();
    resyncOpen_ = true;
  }
  if (firstSyncDone) {
    sink_->resync();
  }
  auto replace = [&](auto& cache, auto fresh, auto upsert, auto remove) {
    if (!firstSyncDone) {
      for (const auto& [key, object] : cache) {
        if (!fresh.contains(key)) {
          remove(object);
        }
      }
      for (const auto& [key, object] : fresh) {
        upsert(object);
      }
    }
    cache = std::move(fresh);
  };
  switch (kind) {
    case ApiKind::Services:
      replace(services_, decodeAll<Service>(items, decodeService, "Service", *sink_),
              [&](const Service& s) { sink_->upsertService(s); },
              [&](const Service& s) { sink_->deleteService(s.key()); });
      listedServices_ = true;
      break;
    case ApiKind::EndpointSlices:
      replace(slices_, decodeAll<EndpointSlice>(items, decodeEndpointSlice, "EndpointSlice", *sink_),
              [&](const EndpointSlice& s) { sink_->upsertEndpointSlice(s); },
              [&](const EndpointSlice& s) { sink_->deleteEndpointSlice(s.meta.namespace_, s.meta.name); });
      listedSlices_ = true;
      break;
    case ApiKind::Node:
      replace(nodes_, decodeAll<Node>(items, decodeNode, "Node", *sink_),
              [&](const Node& n) { sink_->upsertNode(n); },
              [&](const Node& n) { sink_->deleteNode(n.meta.name); });
      break;
    case ApiKind::Pods:
      replace(pods_, decodePods(items, nodeName_), [&](const BypassPod& p) { sink_->upsertPod(p); },
              [&](const BypassPod& p) { sink_->deletePod(p.key); });
      break;
  }
  if (firstSyncDone) {
    deliverAllCachedLocked();
    sink_->synced();
  } else if (listedServices_ && listedSlices_) {
    sink_->synced();
    resyncOpen_ = false;
    health_.markSynced();
  }
}

void ApiDelivery::deliverEvent(ApiKind kind, const WatchEvent& event) {
  const std::string key = objectKey(event.object);
  const bool deleted = event.type == "DELETED";
  if (!deleted && event.type != "ADDED" && event.type != "MODIFIED") {
    return;  // unknown event types are ignored, as client-go does
  }
  std::lock_guard lock(mutex_);
  if (kind == ApiKind::Pods) {
    // A Pod no longer selected (label or annotation removed) is gone for us, as on a relist.
    auto pod = deleted ? std::nullopt : decodePod(event.object);
    if (pod && pod->nodeName == nodeName_) {
      pods_.insert_or_assign(pod->key, *pod);
      sink_->upsertPod(*pod);
    } else if (auto it = pods_.find(key); it != pods_.end()) {
      pods_.erase(it);
      sink_->deletePod(key);
    }
    return;
  }
  // An object that cannot be decoded is treated as absent, as a relist would.
  auto apply = [&](auto& cache, auto decode, auto upsert, auto remove) {
    if (!deleted) {
      auto result = decode(event.object);
      if (result.object) {
        cache.insert_or_assign(key, *result.object);
        upsert(std::move(*result.object));
        return;
      }
      sink_->reportError(std::string("kubernetes API, ") + nameOf(kind) + " " + key + ": " + result.error);
    }
    if (auto it = cache.find(key); it != cache.end()) {
      auto object = std::move(it->second);
      cache.erase(it);
      remove(object);
    }
  };
  switch (kind) {
    case ApiKind::Services:
      apply(services_, decodeService, [&](Service s) { sink_->upsertService(std::move(s)); },
            [&](const Service& s) { sink_->deleteService(s.key()); });
      break;
    case ApiKind::EndpointSlices:
      apply(slices_, decodeEndpointSlice, [&](EndpointSlice s) { sink_->upsertEndpointSlice(std::move(s)); },
            [&](const EndpointSlice& s) { sink_->deleteEndpointSlice(s.meta.namespace_, s.meta.name); });
      break;
    case ApiKind::Node:
      apply(nodes_, decodeNode, [&](Node n) { sink_->upsertNode(std::move(n)); },
            [&](const Node& n) { sink_->deleteNode(n.meta.name); });
      break;
    case ApiKind::Pods:
      break;  // above
  }
}

}  // namespace bpfproxy::controller::kube
