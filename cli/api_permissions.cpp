#include "cli/api_permissions.h"

namespace bpfproxy::cli {

std::vector<ApiPermission> agentPermissions(bool bypassPods) {
  std::vector<ApiPermission> needed;
  for (const char* verb : {"list", "watch"}) {
    needed.push_back({verb, "", "services"});
    needed.push_back({verb, "discovery.k8s.io", "endpointslices"});
    needed.push_back({verb, "", "nodes"});
    if (bypassPods) needed.push_back({verb, "", "pods"});
  }
  return needed;
}

Finding checkApiPermissions(controller::kube::ApiClient& client, const std::vector<ApiPermission>& permissions) {
  Finding finding{"API permissions", "ok", "", ""};
  std::vector<std::string> missing;
  for (const auto& permission : permissions) {
    auto review = web::json::value::object();
    review["apiVersion"] = web::json::value::string("authorization.k8s.io/v1");
    review["kind"] = web::json::value::string("SelfSubjectAccessReview");
    auto attributes = web::json::value::object();
    attributes["verb"] = web::json::value::string(permission.verb);
    attributes["group"] = web::json::value::string(permission.group);
    attributes["resource"] = web::json::value::string(permission.resource);
    review["spec"]["resourceAttributes"] = attributes;
    try {
      auto answer = client.create("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review);
      bool allowed = answer.has_object_field("status") && answer.at("status").has_boolean_field("allowed") &&
                     answer.at("status").at("allowed").as_bool();
      if (!allowed) missing.push_back(permission.toString());
    } catch (const std::exception& e) {
      finding.status = "fail";
      finding.detail = "cannot ask " + client.currentServer() + " (SelfSubjectAccessReview): " + e.what();
      finding.fix = "check the kubeconfig's server and credentials";
      return finding;
    }
  }
  if (missing.empty()) {
    finding.detail = "all " + std::to_string(permissions.size()) + " requests the agent makes are allowed";
    return finding;
  }
  finding.status = "fail";
  for (const auto& item : missing) finding.detail += (finding.detail.empty() ? "missing: " : ", ") + item;
  finding.fix = "bind the agent's user to a ClusterRole granting them (kube-proxy's system:node-proxier, or the "
                "chart's ClusterRole; docs/security.md lists each)";
  return finding;
}

}  // namespace bpfproxy::cli
