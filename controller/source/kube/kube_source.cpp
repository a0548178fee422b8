#include "controller/source/kube/kube_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "controller/source/bypass_pods.h"
#include "controller/source/kube_decode.h"

namespace bpfproxy::controller::kube {

namespace {

std::string metaString(const web::json::value& object, const char* key) {
  if (!object.is_object() || !object.has_object_field("metadata")) {
    return "";
  }
  const auto& metadata = object.at("metadata");
  return metadata.has_string_field(key) ? metadata.at(key).as_string() : "";
}

// "namespace/name", or "name" for cluster-scoped objects: the cache key.
std::string objectKey(const web::json::value& object) {
  const std::string ns = metaString(object, "namespace");
  return ns.empty() ? metaString(object, "name") : ns + "/" + metaString(object, "name");
}

}  // namespace

KubeSource::KubeSource(KubeSourceConfig config)
    : config_(std::move(config)), client_(std::make_unique<ApiClient>(config_.cluster, config_.client)) {}

KubeSource::~KubeSource() { stop(); }

const char* KubeSource::pathFor(Kind kind) {
  switch (kind) {
    case Kind::Services: return "/api/v1/services";
    case Kind::EndpointSlices: return "/apis/discovery.k8s.io/v1/endpointslices";
    case Kind::Node: return "/api/v1/nodes";
    case Kind::Pods: return "/api/v1/pods";
  }
  return "";
}

const char* KubeSource::nameOf(Kind kind) {
  switch (kind) {
    case Kind::Services: return "Service";
    case Kind::EndpointSlices: return "EndpointSlice";
    case Kind::Node: return "Node";
    case Kind::Pods: return "Pod";
  }
  return "";
}

const char* KubeSource::resourceOf(Kind kind) {
  switch (kind) {
    case Kind::Services: return "services";
    case Kind::EndpointSlices: return "endpointslices.discovery.k8s.io";
    case Kind::Node: return "nodes";
    case Kind::Pods: return "pods";
  }
  return "";
}

std::string KubeSource::labelSelector() const {
  // As kube-proxy: not our proxy's objects, and no slices of headless Services.
  std::string selector = std::string("!") + kHeadlessLabel + ",";
  if (config_.serviceProxyName.empty()) {
    return selector + "!" + kServiceProxyNameLabel;
  }
  return selector + kServiceProxyNameLabel + "=" + config_.serviceProxyName;
}

Selectors KubeSource::selectorsFor(Kind kind) const {
  if (kind == Kind::Node) {
    return {"", "metadata.name=" + config_.nodeName};
  }
  if (kind == Kind::Pods) {
    // No label selector: a Pod may ask to bypass by annotation, which the server cannot
    // select on. The node's Pods are few; decodeBypassPod() picks the bypassing ones.
    return {"", "spec.nodeName=" + config_.nodeName};
  }
  return {labelSelector(), ""};
}

std::string KubeSource::describe() const {
  std::string servers;
  for (const auto& server : config_.cluster.servers) {
    servers += (servers.empty() ? "" : ",") + server;
  }
  return "kubernetes API " + servers + " (" + config_.cluster.origin + ")";
}

KubeSourceStats KubeSource::stats() const {
  std::lock_guard lock(statsMutex_);
  return stats_;
}

void KubeSource::start(SourceSink& sink) {
  if (!threads_.empty()) {
    return;
  }
  sink_ = &sink;
  stopping_ = false;
  cancel_ = pplx::cancellation_token_source();
  threads_.emplace_back([this] { run(Kind::Services); });
  threads_.emplace_back([this] { run(Kind::EndpointSlices); });
  if (!config_.nodeName.empty()) {
    threads_.emplace_back([this] { run(Kind::Node); });
    // Pods only when bypassing Pods are configured: kube-proxy's system:node-proxier
    // role, which is enough otherwise, cannot read them.
    if (config_.watchPods) threads_.emplace_back([this] { run(Kind::Pods); });
  }
}

void KubeSource::stop() {
  {
    std::lock_guard lock(waitMutex_);
    stopping_ = true;
  }
  cancel_.cancel();  // aborts pending lists and open watch streams at once
  waitCv_.notify_all();
  for (auto& thread : threads_) {
    thread.join();
  }
  threads_.clear();
}

bool KubeSource::waitBackoff(int attempt) {
  // Exponential, capped, with jitter so that many nodes do not reconnect in step.
  const double base = static_cast<double>(config_.backoffInitial.count()) * std::pow(2.0, std::min(attempt, 20));
  const double capped = std::min(base, static_cast<double>(config_.backoffMax.count()));
  thread_local std::mt19937 random{std::random_device{}()};
  const auto delay = std::chrono::milliseconds(
      static_cast<int64_t>(std::uniform_real_distribution<double>(capped / 2, capped)(random)));
  {
    std::lock_guard lock(statsMutex_);
    stats_.backoff = delay;
  }
  std::unique_lock lock(waitMutex_);
  return !waitCv_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

void KubeSource::touch() {
  std::string recovered;
  {
    std::lock_guard lock(statsMutex_);
    stats_.lastContact = std::chrono::system_clock::now();
    recovered.swap(stats_.lastError);
    stats_.backoff = std::chrono::milliseconds(0);
  }
  if (!recovered.empty()) spdlog::info("kube: the API server answers again (last error: {})", recovered);
}

std::string apiErrorReason(const std::string& message) {
  auto has = [&](const char* text) { return message.find(text) != std::string::npos; };
  if (has("stream broken") || has("undecodable event")) return "watch_broken";
  // Before tls: a 401's message names the credentials, which may be a client certificate.
  if (has("HTTP 401") || has("HTTP 403") || has("Unauthorized") || has("Forbidden")) return "unauthorized";
  if (has("handshake") || has("certificate") || has("SSL") || has("ssl") || has("TLS")) return "tls";
  // TLS 1.3 checks the client certificate after the client's side of the handshake: a
  // rejected certificate reaches the client as an HTTPS server closing before it answers.
  if (has("https://") && has("Failed to read HTTP status line")) return "tls";
  if (has("HTTP 5")) return "server_error";
  if (has("no API server answered") || has("connect") || has("refused") || has("timed out") || has("timeout"))
    return "unreachable";
  return "other";
}

void KubeSource::noteError(Kind kind, const std::string& message) {
  bool first = false;
  const std::string reason = apiErrorReason(message);
  {
    std::lock_guard lock(statsMutex_);
    ++stats_.errors;
    ++stats_.errorsByReason[reason];
    first = stats_.lastError.empty() || apiErrorReason(stats_.lastError) != reason;
    stats_.lastError = message;
  }
  // Once per outage and cause at warning level (a cut watch, then a refused connection, is
  // two lines); the repeats would only fill the log.
  if (first) {
    spdlog::warn("kube: {}s: {} ({}); retrying with backoff", nameOf(kind), message, reason);
  } else {
    spdlog::debug("kube: {}s: {}", nameOf(kind), message);
  }
}

void KubeSource::noteForbidden(Kind kind, const ApiError& error, bool listing, bool& logged) {
  {
    std::lock_guard lock(statsMutex_);
    ++stats_.errors;
    ++stats_.errorsByReason["unauthorized"];
    stats_.lastError = std::string("forbidden: ") + (listing ? "list " : "watch ") + resourceOf(kind);
  }
  // One error, not one per retry: the fix is a change of RBAC, which a retry cannot make.
  if (!logged) {
    logged = true;
    spdlog::error("kube: the API server forbids {} {} to this agent's user ({}); grant it "
                  "(docs/security.md lists what the agent needs, `bpfproxy doctor --kubeconfig` checks it). "
                  "Asking again every {:g} s",
                  listing ? "list" : "watch", resourceOf(kind), error.what(),
                  std::chrono::duration<double>(config_.backoffMax).count());
  }
}

void KubeSource::run(Kind kind) {
  const char* path = pathFor(kind);
  const Selectors selectors = selectorsFor(kind);
  std::string resourceVersion;
  bool listed = false;
  bool everListed = false;
  int failures = 0;
  bool forbiddenLogged = false;
  // Any other failure: count it, then retry (the watch from its resourceVersion) after a backoff.
  auto recover = [&](const std::string& message) {
    noteError(kind, message);
    if (listed) {
      std::lock_guard lock(statsMutex_);
      ++stats_.watchRestarts;
    }
    return waitBackoff(failures++);
  };
  while (!stopping_) {
    try {
      if (!listed) {
        ListResult result = client_->list(path, selectors, cancel_.get_token());
        touch();
        if (stopping_) {
          break;
        }
        if (everListed) {
          std::lock_guard lock(statsMutex_);
          ++stats_.relists;
        }
        deliverList(kind, result.items);
        forbiddenLogged = false;  // allowed again: a later refusal is news
        resourceVersion = result.resourceVersion;
        listed = everListed = true;
      }
      const auto opened = std::chrono::steady_clock::now();
      client_->watch(
          path, selectors, resourceVersion, config_.watchTimeout,
          [&](const WatchEvent& event) {
            touch();
            if (const std::string rv = metaString(event.object, "resourceVersion"); !rv.empty()) {
              resourceVersion = rv;  // bookmarks carry only this
            }
            if (event.type != "BOOKMARK") {
              deliverEvent(kind, event);
            }
            failures = 0;
          },
          cancel_.get_token());
      {
        std::lock_guard lock(statsMutex_);
        ++stats_.watchRestarts;
      }
      // A stream that ends at once, again and again, must not spin.
      if (std::chrono::steady_clock::now() - opened < std::chrono::seconds(1) && !waitBackoff(failures++)) {
        break;
      }
    } catch (const pplx::task_canceled&) {
      break;
    } catch (const ApiError& e) {
      if (stopping_) {
        break;
      }
      if (e.isGone()) {
        // Our resourceVersion was compacted away: list again and let the sink diff.
        spdlog::info("kube: {}s: {}; relisting", nameOf(kind), e.what());
        const bool wasListing = !listed;
        listed = false;
        {
          std::lock_guard lock(statsMutex_);
          stats_.watchRestarts += wasListing ? 0 : 1;
        }
        if (wasListing && !waitBackoff(failures++)) {
          break;  // the list itself keeps expiring: do not spin
        }
        continue;
      }
      if (e.code() == 403) {
        noteForbidden(kind, e, !listed, forbiddenLogged);
        std::unique_lock lock(waitMutex_);
        if (waitCv_.wait_for(lock, config_.backoffMax, [this] { return stopping_.load(); })) break;
        continue;
      }
      if (!recover(e.what())) {
        break;
      }
    } catch (const std::exception& e) {
      if (stopping_ || !recover(e.what())) {
        break;
      }
    }
  }
}

void KubeSource::deliverAllCachedLocked() {
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

void KubeSource::deliverList(Kind kind, const std::vector<web::json::value>& items) {
  std::lock_guard lock(sinkMutex_);
  const bool firstSyncDone = stats().synced;
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
    case Kind::Services:
      replace(services_, decodeAll<Service>(items, decodeService, "Service", *sink_),
              [&](const Service& s) { sink_->upsertService(s); },
              [&](const Service& s) { sink_->deleteService(s.key()); });
      listedServices_ = true;
      break;
    case Kind::EndpointSlices:
      replace(slices_, decodeAll<EndpointSlice>(items, decodeEndpointSlice, "EndpointSlice", *sink_),
              [&](const EndpointSlice& s) { sink_->upsertEndpointSlice(s); },
              [&](const EndpointSlice& s) { sink_->deleteEndpointSlice(s.meta.namespace_, s.meta.name); });
      listedSlices_ = true;
      break;
    case Kind::Node:
      replace(nodes_, decodeAll<Node>(items, decodeNode, "Node", *sink_),
              [&](const Node& n) { sink_->upsertNode(n); },
              [&](const Node& n) { sink_->deleteNode(n.meta.name); });
      break;
    case Kind::Pods:
      replace(pods_, decodePods(items, config_.nodeName), [&](const BypassPod& p) { sink_->upsertPod(p); },
              [&](const BypassPod& p) { sink_->deletePod(p.key); });
      break;
  }
  if (firstSyncDone) {
    deliverAllCachedLocked();
    sink_->synced();
  } else if (listedServices_ && listedSlices_) {
    sink_->synced();
    resyncOpen_ = false;
    std::lock_guard statsLock(statsMutex_);
    stats_.synced = true;
  }
}

void KubeSource::deliverEvent(Kind kind, const WatchEvent& event) {
  const std::string key = objectKey(event.object);
  const bool deleted = event.type == "DELETED";
  if (!deleted && event.type != "ADDED" && event.type != "MODIFIED") {
    return;  // unknown event types are ignored, as client-go does
  }
  std::lock_guard lock(sinkMutex_);
  if (kind == Kind::Pods) {
    // A Pod no longer selected (label or annotation removed) is gone for us, as on a relist.
    auto pod = deleted ? std::nullopt : decodePod(event.object);
    if (pod && pod->nodeName == config_.nodeName) {
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
    case Kind::Services:
      apply(services_, decodeService, [&](Service s) { sink_->upsertService(std::move(s)); },
            [&](const Service& s) { sink_->deleteService(s.key()); });
      break;
    case Kind::EndpointSlices:
      apply(slices_, decodeEndpointSlice, [&](EndpointSlice s) { sink_->upsertEndpointSlice(std::move(s)); },
            [&](const EndpointSlice& s) { sink_->deleteEndpointSlice(s.meta.namespace_, s.meta.name); });
      break;
    case Kind::Node:
      apply(nodes_, decodeNode, [&](Node n) { sink_->upsertNode(std::move(n)); },
            [&](const Node& n) { sink_->deleteNode(n.meta.name); });
      break;
    case Kind::Pods:
      break;  // above
  }
}

}  // namespace bpfproxy::controller::kube
