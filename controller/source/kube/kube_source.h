#pragma once
// Services, EndpointSlices, this node's Node and its Pods that bypass the socket hooks from
// the Kubernetes API: list, then watch
// from the list's resourceVersion; relist on 410 Gone; reconnect with backoff. Delivers to
// a SourceSink like the manifest source does.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/source/kube/api_client.h"
#include "controller/source/kube/kubeconfig.h"
#include "controller/source/source.h"

namespace bpfproxy::controller::kube {

inline constexpr const char* kServiceProxyNameLabel = "service.kubernetes.io/service-proxy-name";
inline constexpr const char* kHeadlessLabel = "service.kubernetes.io/headless";

struct KubeSourceConfig {
  ClusterConfig cluster;
  std::string nodeName;          // the Node (and the Pods) to watch; empty: none
  bool watchPods = false;        // this node's Pods, for bypassing ones (--pod-devices given)
  std::string serviceProxyName;  // empty: Services without the service-proxy-name label
  std::chrono::seconds watchTimeout{300};  // the watch's timeoutSeconds
  std::chrono::milliseconds backoffInitial{500};
  std::chrono::milliseconds backoffMax{30000};
  ApiClientOptions client;
};

// For metrics and health; read at any time from any thread.
struct KubeSourceStats {
  uint64_t watchRestarts = 0;  // watches re-opened after they ended or broke
  uint64_t relists = 0;        // lists after the first one of a resource (410 Gone)
  uint64_t errors = 0;         // failed requests and broken streams
  // The same errors by cause: unreachable, tls, unauthorized, watch_broken, server_error, other.
  std::map<std::string, uint64_t> errorsByReason;
  std::chrono::milliseconds backoff{0};  // the wait before the current retry; 0 when none
  std::optional<std::chrono::system_clock::time_point> lastContact;  // last answer received
  std::string lastError;       // empty once a request succeeded again
  bool synced = false;         // the first full view was delivered
};

// The cause of a failed request or broken stream, from its message: unreachable, tls,
// unauthorized, watch_broken, server_error or other (the label of bpfproxy_api_errors_total).
std::string apiErrorReason(const std::string& message);

class KubeSource : public Source {
public:
  explicit KubeSource(KubeSourceConfig config);
  ~KubeSource() override;

  void start(SourceSink& sink) override;
  void stop() override;
  std::string describe() const override;

  KubeSourceStats stats() const;
  // The label selector sent for Services and EndpointSlices (as kube-proxy's).
  std::string labelSelector() const;

private:
  enum class Kind { Services, EndpointSlices, Node, Pods };

  void run(Kind kind);
  bool waitBackoff(int attempt);  // false when stopping
  void deliverList(Kind kind, const std::vector<web::json::value>& items);
  void deliverEvent(Kind kind, const WatchEvent& event);
  void deliverAllCachedLocked();
  void touch();
  void noteError(Kind kind, const std::string& message);
  // Counts a 403 and logs it when `logged` is false (each kind's thread keeps its own).
  void noteForbidden(Kind kind, const ApiError& error, bool listing, bool& logged);
  Selectors selectorsFor(Kind kind) const;
  static const char* pathFor(Kind kind);
  static const char* nameOf(Kind kind);
  static const char* resourceOf(Kind kind);

  KubeSourceConfig config_;
  std::unique_ptr<ApiClient> client_;
  SourceSink* sink_ = nullptr;

  // Guards the caches and every sink call: the sink sees one call at a time.
  std::mutex sinkMutex_;
  std::map<std::string, Service> services_;
  std::map<std::string, EndpointSlice> slices_;
  std::map<std::string, Node> nodes_;
  std::map<std::string, BypassPod> pods_;  // only the selected ones
  bool resyncOpen_ = false;  // resync() sent, synced() not yet (first sync only)
  bool listedServices_ = false;
  bool listedSlices_ = false;

  std::atomic<bool> stopping_{false};
  pplx::cancellation_token_source cancel_;
  std::mutex waitMutex_;
  std::condition_variable waitCv_;
  std::vector<std::thread> threads_;

  mutable std::mutex statsMutex_;
  KubeSourceStats stats_;
};

}  // namespace bpfproxy::controller::kube
