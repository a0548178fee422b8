#include "controller/state/cluster_store.h"

#include "controller/state/object_equality.h"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <tuple>
#include <utility>

namespace bpfproxy::controller {

namespace {

constexpr size_t kMaxPendingErrors = 1000;
constexpr const char* kTriggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time";

// "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.123+02:00"; nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> parseRfc3339(const std::string& text) {
  std::tm tm{};
  char separator = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &separator, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 7 ||
      (separator != 'T' && separator != 't'))
    return std::nullopt;
  // Fields in range, the year too: one far from now overflows the clock's nanoseconds
  // (a year of -999 was UB, found by fuzz_manifests).
  if (tm.tm_year < 1970 || tm.tm_year > 2200 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
      tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::chrono::nanoseconds fraction{0};
  size_t at = static_cast<size_t>(consumed);
  if (at < text.size() && text[at] == '.') {
    int64_t scale = 100000000;
    for (++at; at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])); ++at) {
      fraction += std::chrono::nanoseconds((text[at] - '0') * scale);
      scale /= 10;
    }
  }
  int offsetSeconds = 0;
  std::string zone = text.substr(at);
  if (zone == "Z" || zone == "z") {
    offsetSeconds = 0;
  } else {
    int hours = 0, minutes = 0;
    char sign = 0;
    if (std::sscanf(zone.c_str(), "%c%2d:%2d", &sign, &hours, &minutes) != 3 ||
        (sign != '+' && sign != '-') || zone.size() != 6)
      return std::nullopt;
    offsetSeconds = (sign == '+' ? 1 : -1) * (hours * 3600 + minutes * 60);
  }
  time_t seconds = timegm(&tm);
  if (seconds == -1) return std::nullopt;
  auto point = std::chrono::system_clock::from_time_t(seconds - offsetSeconds);
  return point + std::chrono::duration_cast<std::chrono::system_clock::duration>(fraction);
}

std::chrono::system_clock::time_point triggerTime(const EndpointSlice& slice,
                                                  std::chrono::system_clock::time_point now) {
  auto it = slice.meta.annotations.find(kTriggerTimeAnnotation);
  if (it == slice.meta.annotations.end()) return now;
  return parseRfc3339(it->second).value_or(now);
}

std::optional<ServiceKey> owner(const EndpointSlice& slice) {
  if (slice.serviceName().empty()) return std::nullopt;
  return slice.serviceKey();
}

// One element per map entry, picked from it (its key or its value), in the map's order.
template <typename Map, typename Pick>
auto collect(const Map& map, Pick pick) {
  std::vector<std::decay_t<decltype(pick(*map.begin()))>> result;
  result.reserve(map.size());
  for (const auto& entry : map) result.push_back(pick(entry));
  return result;
}

}  // namespace

ClusterStore::ClusterStore(std::string nodeName) : nodeName_(std::move(nodeName)) {}

void ClusterStore::upsertService(Service service) {
  std::lock_guard lock(mutex_);
  ServiceKey key = service.key();
  if (resyncing(ObjectKind::Service)) seenServices_.insert(key);
  auto it = services_.find(key);
  if (it != services_.end() && same(it->second, service)) return;
  services_[key] = std::move(service);
  counters_.serviceChanges++;
  markDirty(key, Clock::now());
}

void ClusterStore::deleteService(const ServiceKey& key) {
  std::lock_guard lock(mutex_);
  if (services_.erase(key) == 0) return;
  counters_.serviceChanges++;
  markDirty(key, Clock::now());
}

void ClusterStore::upsertEndpointSlice(EndpointSlice slice) {
  std::lock_guard lock(mutex_);
  SliceName name{slice.meta.namespace_, slice.meta.name};
  if (resyncing(ObjectKind::EndpointSlice)) seenSlices_.insert(name);
  auto it = slices_.find(name);
  if (it != slices_.end() && same(it->second, slice)) return;
  Clock::time_point when = triggerTime(slice, Clock::now());
  // A slice relabelled to another Service leaves the old one: both must be rebuilt.
  if (it != slices_.end()) {
    if (auto previous = owner(it->second)) {
      slicesByService_[*previous].erase(name);
      if (slicesByService_[*previous].empty()) slicesByService_.erase(*previous);
      markDirty(*previous, when);
    }
  }
  if (auto current = owner(slice)) {
    slicesByService_[*current].insert(name);
    markDirty(*current, when);
  }
  slices_[name] = std::move(slice);
  counters_.endpointChanges++;
}

void ClusterStore::deleteEndpointSlice(const std::string& namespace_, const std::string& name) {
  std::lock_guard lock(mutex_);
  removeSlice({namespace_, name}, Clock::now());
}

void ClusterStore::removeSlice(const SliceName& name, Clock::time_point when) {
  auto it = slices_.find(name);
  if (it == slices_.end()) return;
  if (auto previous = owner(it->second)) {
    slicesByService_[*previous].erase(name);
    if (slicesByService_[*previous].empty()) slicesByService_.erase(*previous);
    markDirty(*previous, when);
  }
  slices_.erase(it);
  counters_.endpointChanges++;
}

void ClusterStore::upsertNode(Node node) {
  if (node.meta.name != nodeName_) return;
  std::lock_guard lock(mutex_);
  if (resyncing(ObjectKind::Node)) seenNode_ = true;
  std::string zone = node.zone;
  node_ = std::move(node);
  setZone(zone);
}

void ClusterStore::deleteNode(const std::string& name) {
  if (name != nodeName_) return;
  std::lock_guard lock(mutex_);
  node_.reset();
  setZone("");
}

void ClusterStore::upsertPod(const BypassPod& pod) {
  // The TC agent polls bypassPods(): no Service becomes dirty.
  if (pod.nodeName != nodeName_) return;
  std::lock_guard lock(mutex_);
  if (resyncing(ObjectKind::Pod)) seenPods_.insert(pod.key);
  pods_[pod.key] = pod;
}

void ClusterStore::deletePod(const std::string& key) {
  std::lock_guard lock(mutex_);
  pods_.erase(key);
}

std::vector<BypassPod> ClusterStore::bypassPods() const {
  std::lock_guard lock(mutex_);
  return collect(pods_, [](const auto& entry) { return entry.second; });
}

void ClusterStore::setZone(const std::string& zone) {
  if (zone == zone_) return;
  zone_ = zone;
  // Topology hints are read against the zone: every Service may change.
  markAllDirty(Clock::now());
}

void ClusterStore::resync() {
  std::lock_guard lock(mutex_);
  for (ObjectKind kind : kObjectKinds) beginResync(kind);
}

void ClusterStore::synced() {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  for (ObjectKind kind : kObjectKinds)
    if (resyncing(kind)) endResync(kind, now);
  synced_ = true;
  changed_.notify_all();
}

void ClusterStore::resync(ObjectKind kind) {
  std::lock_guard lock(mutex_);
  beginResync(kind);
}

void ClusterStore::synced(ObjectKind kind) {
  std::lock_guard lock(mutex_);
  if (resyncing(kind)) endResync(kind, Clock::now());
}

void ClusterStore::beginResync(ObjectKind kind) {
  resyncing_.insert(kind);
  switch (kind) {
    case ObjectKind::Service: seenServices_.clear(); break;
    case ObjectKind::EndpointSlice: seenSlices_.clear(); break;
    case ObjectKind::Node: seenNode_ = false; break;
    case ObjectKind::Pod: seenPods_.clear(); break;
  }
}

void ClusterStore::endResync(ObjectKind kind, Clock::time_point now) {
  resyncing_.erase(kind);
  switch (kind) {
    case ObjectKind::Service:
      for (auto it = services_.begin(); it != services_.end();) {
        if (seenServices_.count(it->first)) {
          ++it;
          continue;
        }
        markDirty(it->first, now);
        counters_.serviceChanges++;
        it = services_.erase(it);
      }
      seenServices_.clear();
      break;
    case ObjectKind::EndpointSlice: {
      std::vector<SliceName> gone;
      for (const auto& [name, slice] : slices_)
        if (!seenSlices_.count(name)) gone.push_back(name);
      for (const auto& name : gone) removeSlice(name, now);
      seenSlices_.clear();
      break;
    }
    case ObjectKind::Node:
      if (node_ && !seenNode_) {
        node_.reset();
        setZone("");
      }
      break;
    case ObjectKind::Pod:
      std::erase_if(pods_, [&](const auto& entry) { return !seenPods_.count(entry.first); });
      seenPods_.clear();
      break;
  }
  changed_.notify_all();
}

void ClusterStore::reportError(const std::string& message) {
  // Not logged here: the agent logs what it takes, once.
  std::lock_guard lock(mutex_);
  // Bounded: nobody may be collecting them.
  if (errors_.size() >= kMaxPendingErrors) errors_.erase(errors_.begin());
  errors_.push_back(message);
}

void ClusterStore::markDirty(const ServiceKey& key, Clock::time_point when) {
  auto [it, inserted] = dirty_.emplace(key, when);
  if (!inserted && when < it->second) it->second = when;
  changed_.notify_all();
}

void ClusterStore::markAllDirty(Clock::time_point when) {
  for (const auto& [key, service] : services_) markDirty(key, when);
}

bool ClusterStore::hasSynced() const {
  std::lock_guard lock(mutex_);
  return synced_;
}

std::vector<DirtyService> ClusterStore::takeDirty() {
  std::lock_guard lock(mutex_);
  std::vector<DirtyService> result;
  result.reserve(dirty_.size());
  for (const auto& [key, when] : dirty_) result.push_back({key, when});
  dirty_.clear();
  return result;
}

bool ClusterStore::waitForChange(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return !dirty_.empty() || woken_; });
  woken_ = false;
  return !dirty_.empty();
}

void ClusterStore::waitForSynced(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return synced_ || woken_; });
}

void ClusterStore::wakeUp() {
  std::lock_guard lock(mutex_);
  woken_ = true;
  changed_.notify_all();
}

std::optional<Service> ClusterStore::service(const ServiceKey& key) const {
  std::lock_guard lock(mutex_);
  auto it = services_.find(key);
  if (it == services_.end()) return std::nullopt;
  return it->second;
}

std::vector<ServiceKey> ClusterStore::serviceKeys() const {
  std::lock_guard lock(mutex_);
  return collect(services_, [](const auto& entry) { return entry.first; });
}

std::vector<EndpointSlice> ClusterStore::slicesFor(const ServiceKey& key) const {
  std::lock_guard lock(mutex_);
  std::vector<EndpointSlice> result;
  auto it = slicesByService_.find(key);
  if (it == slicesByService_.end()) return result;
  for (const auto& name : it->second) result.push_back(slices_.at(name));
  return result;
}

std::string ClusterStore::nodeZone() const {
  std::lock_guard lock(mutex_);
  return zone_;
}

bool ClusterStore::nodeEligible() const {
  std::lock_guard lock(mutex_);
  return !node_ || controller::nodeEligible(*node_);
}

std::vector<std::string> ClusterStore::takeErrors() {
  std::lock_guard lock(mutex_);
  return std::exchange(errors_, {});
}

ChangeCounters ClusterStore::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace bpfproxy::controller
