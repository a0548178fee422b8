#pragma once
// Where the agent's Services and EndpointSlices come from: --manifests DIR, or the
// Kubernetes API through --kubeconfig, --api-server, or the in-cluster configuration.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "controller/source/source.h"

namespace bpfproxy::cli {

struct SourceFlags {
  std::string manifests;
  std::string kubeconfig;
  std::string context;
  std::string apiServers;  // URL[,URL]
  std::string serviceProxyName;
  std::string serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

  bool usesKubernetesApi() const { return manifests.empty(); }
};

void addSourceFlags(CLI::App& cmd, SourceFlags& flags);

// The source the flags name; null with `error` naming the flag or file at fault.
// `watchPods`: read this node's Pods from the API (bypassing Pods are configured).
std::unique_ptr<controller::Source> makeSource(const SourceFlags& flags, const std::string& nodeName,
                                               bool watchPods, std::string& error);

}  // namespace bpfproxy::cli
