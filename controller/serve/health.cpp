#include "controller/serve/health.h"

#include <ctime>

#include <fmt/format.h>

namespace bpfproxy::controller {

ProxierHealth::ProxierHealth(std::chrono::milliseconds healthTimeout, Clock clock)
    : timeout_(healthTimeout), clock_(std::move(clock)) {}

void ProxierHealth::setHookProbe(std::function<HookState()> probe) {
  std::lock_guard lock(mutex_);
  hookProbe_ = std::move(probe);
}

void ProxierHealth::datapathLoaded() {
  std::lock_guard lock(mutex_);
  loaded_ = true;
}

void ProxierHealth::queuedUpdate() {
  std::lock_guard lock(mutex_);
  if (!oldestQueued_) oldestQueued_ = clock_();
}

void ProxierHealth::updated(bool fullSync) {
  std::lock_guard lock(mutex_);
  lastUpdated_ = clock_();
  oldestQueued_.reset();
  if (fullSync) fullySynced_ = true;
}

void ProxierHealth::setNodeEligible(bool eligible) {
  std::lock_guard lock(mutex_);
  nodeEligible_ = eligible;
}

HealthVerdict ProxierHealth::evaluate(bool readiness, bool withNode) const {
  std::function<HookState()> probe;
  bool loaded;
  HealthVerdict verdict;
  {
    std::lock_guard lock(mutex_);
    probe = hookProbe_;
    loaded = loaded_;
    verdict.currentTime = clock_();
    verdict.lastUpdated = lastUpdated_;
    verdict.nodeEligible = nodeEligible_;
    if (oldestQueued_ && verdict.currentTime - *oldestQueued_ >= timeout_)
      verdict.reason = fmt::format("an update queued {:.1f}s ago is not applied yet (limit {:.1f}s)",
                                   std::chrono::duration<double>(verdict.currentTime - *oldestQueued_).count(),
                                   std::chrono::duration<double>(timeout_).count());
    else if (readiness && !fullySynced_)
      verdict.reason = "the first full sync is not programmed yet";
    else if (readiness && withNode && !nodeEligible_)
      verdict.reason = "the node is not eligible (being deleted)";
  }
  // Readiness wants the hooks attached; liveness only fails once they were and are gone.
  if (verdict.reason.empty() && probe && (readiness || loaded)) {
    auto hooks = probe();
    if (!hooks.attached) verdict.reason = "program not attached: " + hooks.detail;
  }
  verdict.healthy = verdict.reason.empty();
  verdict.code = verdict.healthy ? 200 : 503;
  // As kube-proxy: a healthy answer reports lastUpdated as now (older releases' meaning).
  if (verdict.healthy) verdict.lastUpdated = verdict.currentTime;
  return verdict;
}

HealthVerdict ProxierHealth::healthz() const { return evaluate(true); }
HealthVerdict ProxierHealth::livez() const { return evaluate(false); }
bool ProxierHealth::proxierHealthy() const { return evaluate(true, false).healthy; }

std::string ProxierHealth::goTime(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "0001-01-01 00:00:00 +0000 UTC";  // Go's zero time
  auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(t);
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(t - seconds).count();
  std::time_t raw = std::chrono::system_clock::to_time_t(seconds);
  std::tm utc{};
  gmtime_r(&raw, &utc);
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &utc);
  std::string fraction;
  if (nanos) {  // Go trims trailing zeros of the fraction
    fraction = fmt::format(".{:09d}", nanos);
    fraction.erase(fraction.find_last_not_of('0') + 1);
  }
  return std::string(date) + fraction + " +0000 UTC";
}

std::string ProxierHealth::healthzBody(const HealthVerdict& verdict) {
  return fmt::format(R"({{"lastUpdated": "{}","currentTime": "{}", "nodeEligible": {}}})",
                     goTime(verdict.lastUpdated), goTime(verdict.currentTime),
                     verdict.nodeEligible ? "true" : "false");
}

std::string ProxierHealth::livezBody(const HealthVerdict& verdict) {
  return fmt::format(R"({{"lastUpdated": "{}","currentTime": "{}"}})", goTime(verdict.lastUpdated),
                     goTime(verdict.currentTime));
}

}  // namespace bpfproxy::controller
