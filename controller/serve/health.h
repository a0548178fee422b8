#pragma once
// kube-proxy's proxier health (pkg/proxy/healthcheck/proxier_health.go), plus what an eBPF
// proxy must add: the datapath is only healthy once the first full sync is programmed and
// every hook is verified attached. Pure logic with an injected clock, so tests drive time.
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace bpfproxy::controller {

struct HealthVerdict {
  bool healthy = false;
  int code = 503;  // 200 or 503
  std::chrono::system_clock::time_point lastUpdated{};  // zero until the first sync
  std::chrono::system_clock::time_point currentTime{};
  bool nodeEligible = true;
  std::string reason;  // why unhealthy, for logs and the X-Bpfproxy-Reason header
};

// Whether the programs are attached; called on every probe (cheap: a few syscalls).
struct HookState {
  bool attached = false;
  std::string detail;  // the first program that is not
};

class ProxierHealth {
public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // healthTimeout: kube-proxy uses 2 x syncPeriod. An update queued longer than this without
  // being applied makes both /healthz and /livez fail.
  explicit ProxierHealth(std::chrono::milliseconds healthTimeout,
                         Clock clock = [] { return std::chrono::system_clock::now(); });

  void setHookProbe(std::function<HookState()> probe);
  void datapathLoaded();      // the programs were attached once: from now a detach is fatal
  void queuedUpdate();        // kube-proxy QueuedUpdate: remembers the oldest pending one
  void updated(bool fullSync);  // kube-proxy Updated: a sync was applied
  void setNodeEligible(bool eligible);  // false while the Node is being deleted

  HealthVerdict healthz() const;  // readiness: synced, attached, not hung, node eligible
  HealthVerdict livez() const;    // liveness: not hung, nothing detached
  // kube-proxy's IsHealthy(): readiness without the node's eligibility; what the health-check
  // node ports report as serviceProxyHealthy.
  bool proxierHealthy() const;

  // kube-proxy's bodies: {"lastUpdated": "...","currentTime": "...", "nodeEligible": true}
  static std::string healthzBody(const HealthVerdict& verdict);
  static std::string livezBody(const HealthVerdict& verdict);
  // Go's time.Time.String() form, which kube-proxy prints: "2006-01-02 15:04:05.999999999 +0000 UTC".
  static std::string goTime(std::chrono::system_clock::time_point t);

private:
  HealthVerdict evaluate(bool readiness, bool withNode = true) const;

  const std::chrono::milliseconds timeout_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::function<HookState()> hookProbe_;
  bool loaded_ = false;
  bool fullySynced_ = false;
  std::optional<std::chrono::system_clock::time_point> oldestQueued_;
  std::chrono::system_clock::time_point lastUpdated_{};
  bool nodeEligible_ = true;
};

}  // namespace bpfproxy::controller
