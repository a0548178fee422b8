#pragma once
// The agent's per-packet side: loads the TC programs, attaches them to the node devices
// and the pod-facing devices (rescanned, for pods that come and go), hands the bypassing
// workloads to NodeState, reserves the NodePort and SNAT port ranges, and runs the
// health-check node ports.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controller/model/bypass_pod.h"
#include "controller/model/desired_state.h"
#include "controller/node/health_check_servers.h"
#include "controller/model/kube_objects.h"
#include "controller/node/node_state.h"
#include "loader/socket_lb_loader.h"
#include "loader/tc_loader.h"

namespace bpfproxy::controller {

// This node's Pods that bypass the socket hooks, asked for on every rescan: what the source
// (manifests or the Kubernetes API) delivered to the store. Problems go to `errors`
// (logged when the set changes).
using BypassPodProvider = std::function<std::vector<BypassPod>(std::vector<std::string>& errors)>;

struct TcAgentOptions {
  std::vector<std::string> devices;         // node devices; empty: no per-packet datapath
  std::vector<std::string> podDeviceGlobs;  // pod-facing devices, shell globs ("veth*")
  std::vector<Cidr> nodePortAddresses;      // empty: every local address
  TcSettings settings;
  bool reservePorts = true;  // ip_local_reserved_ports of the agent's network namespace
  BypassPodProvider bypassPods;  // empty: set by runAgent from the source's store
  std::string cgroupRoot;    // what relative bpfproxy.io/cgroup annotations are under
  std::string nodeName;
  std::vector<Cidr> serviceCidrs;
  std::function<bool()> proxyHealthy;  // serviceProxyHealthy of the health-check node ports
  bool enabled() const { return !devices.empty() || !podDeviceGlobs.empty(); }
};

class TcAgent {
public:
  // Throws loader::LoaderError or std::runtime_error naming what failed.
  TcAgent(const TcAgentOptions& options, const std::string& pinDir, const loader::MapSizes& sizes,
          NodeState& node);
  ~TcAgent();

  // After the reconciler applied a Service's frontends (service null: deleted): its
  // health-check node port.
  void serviceSynced(const ServiceKey& key, const Service* service,
                     const std::vector<FrontendSpec>& frontends);

private:
  void rescan();  // pod devices and bypassing Pods, every second
  void attachPodDevices();  // new pod-facing devices attached, gone ones forgotten
  void syncBypassPods();    // the bypassing Pods' workloads to NodeState when they changed
  void run();

  TcAgentOptions options_;
  std::string pinDir_;
  NodeState& node_;
  std::unique_ptr<loader::TcDatapath> datapath_;
  HealthCheckServers health_;
  std::set<std::string> podDevices_;  // attached
  std::string bypassSignature_;       // what was last written, to log changes only
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace bpfproxy::controller
