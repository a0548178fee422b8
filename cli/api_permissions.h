#pragma once
// The Kubernetes API requests the agent makes, and `doctor --kubeconfig`'s check of each
// with a SelfSubjectAccessReview (the API server answers for the credentials in use).
#include <string>
#include <vector>

#include "cli/ops_views.h"
#include "controller/source/kube/api_client.h"

namespace bpfproxy::cli {

struct ApiPermission {
  std::string verb;
  std::string group;     // "" for the core group
  std::string resource;  // plural
  std::string toString() const { return verb + " " + resource + (group.empty() ? "" : "." + group); }
};

// What the agent asks for; Pods only when bypassing Pods are configured (--pod-devices).
std::vector<ApiPermission> agentPermissions(bool bypassPods);

// One finding: ok when every permission is granted, fail naming the missing ones.
Finding checkApiPermissions(controller::kube::ApiClient& client, const std::vector<ApiPermission>& permissions);

}  // namespace bpfproxy::cli
