#pragma once
// Services, EndpointSlices, this node's Node and its Pods that bypass the socket hooks from
// the Kubernetes API: one thread per kind lists, then watches from the list's
// resourceVersion; relists on 410 Gone; reconnects with backoff. What it hears goes to a
// SourceSink through ApiDelivery (api_delivery.h); how the API server answers is kept in
// ApiHealth (api_health.h).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/source/kube/api_client.h"
#include "controller/source/kube/api_delivery.h"
#include "controller/source/kube/api_health.h"
#include "controller/source/kube/api_objects.h"
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
  void run(ObjectKind kind);
  bool waitBackoff(int attempt);  // false when stopping
  Selectors selectorsFor(ObjectKind kind) const;

  KubeSourceConfig config_;
  std::unique_ptr<ApiClient> client_;
  ApiHealth health_;
  ApiDelivery delivery_;

  std::atomic<bool> stopping_{false};
  pplx::cancellation_token_source cancel_;
  std::mutex waitMutex_;
  std::condition_variable waitCv_;
  std::vector<std::thread> threads_;
};

}  // namespace bpfproxy::controller::kube
