#include "cli/agent_source.h"

#include "controller/source/kube/kube_source.h"
#include "controller/source/manifests_source.h"

namespace bpfproxy::cli {

void addSourceFlags(CLI::App& cmd, SourceFlags& flags) {
  auto* manifests =
      cmd.add_option("--manifests", flags.manifests,
                     "Directory of Service and EndpointSlice manifests (*.yaml, *.yml, *.json), reloaded on change")
          ->check(CLI::ExistingDirectory);
  auto* kubeconfig = cmd.add_option("--kubeconfig", flags.kubeconfig,
                                    "kubeconfig file for the Kubernetes API (default: in-cluster configuration)")
                         ->check(CLI::ExistingFile);
  cmd.add_option("--context", flags.context, "kubeconfig context (default: its current-context)")
      ->needs(kubeconfig);
  cmd.add_option("--api-server", flags.apiServers,
                 "API server URL[,URL] to reach directly, with failover: a node without kube-proxy "
                 "cannot use the kubernetes ClusterIP before bpfproxy has programmed it");
  cmd.add_option("--service-proxy-name", flags.serviceProxyName,
                 "Serve only Services labelled service.kubernetes.io/service-proxy-name=NAME "
                 "(default: only those without the label)");
  manifests->excludes(kubeconfig);
}

std::unique_ptr<controller::Source> makeSource(const SourceFlags& flags, const std::string& nodeName,
                                               bool watchPods, std::string& error) {
  if (!flags.manifests.empty())
    return std::make_unique<controller::ManifestsSource>(flags.manifests);
  namespace kube = controller::kube;
  try {
    kube::KubeSourceConfig config;
    config.cluster = flags.kubeconfig.empty() ? kube::inClusterConfig(flags.serviceAccountDir)
                                              : kube::loadKubeconfig(flags.kubeconfig, flags.context);
    if (!flags.apiServers.empty()) config.cluster.servers = kube::parseServerList(flags.apiServers);
    config.nodeName = nodeName;
    config.watchPods = watchPods;
    config.serviceProxyName = flags.serviceProxyName;
    return std::make_unique<kube::KubeSource>(std::move(config));
  } catch (const std::exception& e) {
    error = e.what();
    if (flags.kubeconfig.empty())
      error += " (no --kubeconfig or --manifests given, so the in-cluster configuration was used)";
    return nullptr;
  }
}

}  // namespace bpfproxy::cli
