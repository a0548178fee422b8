#include "fuzz/targets.h"

namespace bpfproxy::fuzz {

const std::vector<NamedTarget>& targets() {
  static const std::vector<NamedTarget> all = {
      {"manifests", manifests},   {"kube_objects", kubeObjects}, {"watch_stream", watchStream},
      {"kubeconfig", kubeconfig}, {"config", configFile},        {"command_line", commandLine},
  };
  return all;
}

}  // namespace bpfproxy::fuzz
