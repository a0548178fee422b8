#include "controller/source/kube/kube_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace bpfproxy::controller::kube {

KubeSource::KubeSource(KubeSourceConfig config)
    : config_(std::move(config)),
      client_(std::make_unique<ApiClient>(config_.cluster, config_.client)),
      health_(config_.backoffMax),
      delivery_(config_.nodeName, health_) {}

KubeSource::~KubeSource() { stop(); }

std::string KubeSource::labelSelector() const {
  // As kube-proxy: not our proxy's objects, and no slices of headless Services.
  std::string selector = std::string("!") + kHeadlessLabel + ",";
  if (config_.serviceProxyName.empty()) {
    return selector + "!" + kServiceProxyNameLabel;
  }
  return selector + kServiceProxyNameLabel + "=" + config_.serviceProxyName;
}

Selectors KubeSource::selectorsFor(ObjectKind kind) const {
  if (kind == ObjectKind::Node) {
    return {"", "metadata.name=" + config_.nodeName};
  }
  if (kind == ObjectKind::Pod) {
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

KubeSourceStats KubeSource::stats() const { return health_.stats(); }

void KubeSource::start(SourceSink& sink) {
  if (!threads_.empty()) {
    return;
  }
  delivery_.bind(sink);
  stopping_ = false;
  cancel_ = pplx::cancellation_token_source();
  threads_.emplace_back([this] { run(ObjectKind::Service); });
  threads_.emplace_back([this] { run(ObjectKind::EndpointSlice); });
  if (!config_.nodeName.empty()) {
    threads_.emplace_back([this] { run(ObjectKind::Node); });
    // Pods only when bypassing Pods are configured: kube-proxy's system:node-proxier
    // role, which is enough otherwise, cannot read them.
    if (config_.watchPods) threads_.emplace_back([this] { run(ObjectKind::Pod); });
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
  health_.setBackoff(delay);
  std::unique_lock lock(waitMutex_);
  return !waitCv_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

void KubeSource::run(ObjectKind kind) {
  const char* path = pathOf(kind);
  const Selectors selectors = selectorsFor(kind);
  std::string resourceVersion;
  bool listed = false;
  bool everListed = false;
  int failures = 0;
  bool forbiddenLogged = false;
  // Any other failure: count it, then retry (the watch from its resourceVersion) after a backoff.
  auto recover = [&](const std::string& message) {
    health_.noteError(nameOf(kind), message);
    if (listed) health_.countWatchRestart();
    return waitBackoff(failures++);
  };
  while (!stopping_) {
    try {
      if (!listed) {
        ListResult result = client_->list(path, selectors, cancel_.get_token());
        health_.touch();
        if (stopping_) {
          break;
        }
        if (everListed) health_.countRelist();
        delivery_.deliverList(kind, result.items);
        forbiddenLogged = false;  // allowed again: a later refusal is news
        resourceVersion = result.resourceVersion;
        listed = everListed = true;
      }
      const auto opened = std::chrono::steady_clock::now();
      client_->watch(
          path, selectors, resourceVersion, config_.watchTimeout,
          [&](const WatchEvent& event) {
            health_.touch();
            if (const std::string rv = metaString(event.object, "resourceVersion"); !rv.empty()) {
              resourceVersion = rv;  // bookmarks carry only this
            }
            if (event.type != "BOOKMARK") {
              delivery_.deliverEvent(kind, event);
            }
            failures = 0;
          },
          cancel_.get_token());
      health_.countWatchRestart();
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
        if (!wasListing) health_.countWatchRestart();
        if (wasListing && !waitBackoff(failures++)) {
          break;  // the list itself keeps expiring: do not spin
        }
        continue;
      }
      if (e.code() == 403) {
        health_.noteForbidden(resourceOf(kind), e, !listed, forbiddenLogged);
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

}  // namespace bpfproxy::controller::kube
