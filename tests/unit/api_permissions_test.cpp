// `doctor --kubeconfig`: each request the agent makes, asked of the (fake) API server with
// a SelfSubjectAccessReview; the refused ones are named.
#include <doctest/doctest.h>

#include "cli/api_permissions.h"
#include "tests/support/fake_apiserver.h"

using namespace bpfproxy;
using namespace bpfproxy::cli;
using bpfproxy::testing::FakeApiServer;

namespace {

controller::kube::ClusterConfig clusterOf(const FakeApiServer& server) {
  controller::kube::ClusterConfig cluster;
  cluster.servers = {server.url()};
  cluster.origin = "test";
  return cluster;
}

}  // namespace

TEST_CASE("api permissions: what the agent asks for, Pods only with bypassing Pods") {
  std::vector<std::string> names;
  for (const auto& permission : agentPermissions(false)) names.push_back(permission.toString());
  CHECK(names == std::vector<std::string>{"list services", "list endpointslices.discovery.k8s.io", "list nodes",
                                          "watch services", "watch endpointslices.discovery.k8s.io", "watch nodes"});
  CHECK(agentPermissions(true).size() == 8);
}

TEST_CASE("api permissions: all granted, then the missing ones named") {
  FakeApiServer server;
  controller::kube::ApiClient client(clusterOf(server));
  auto granted = checkApiPermissions(client, agentPermissions(true));
  CHECK(granted.status == "ok");
  CHECK(granted.detail == "all 8 requests the agent makes are allowed");
  CHECK(server.state().at("requests").at("POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews").as_integer() ==
        8);

  // kube-proxy's system:node-proxier cannot read Pods.
  server.configure(web::json::value::parse(R"({"forbid": ["list pods", "watch pods"]})"));
  auto refused = checkApiPermissions(client, agentPermissions(true));
  CHECK(refused.status == "fail");
  CHECK(refused.detail == "missing: list pods, watch pods");
  CHECK(refused.fix.find("docs/security.md") != std::string::npos);
  CHECK(checkApiPermissions(client, agentPermissions(false)).status == "ok");  // without bypassing Pods
}

TEST_CASE("api permissions: an unreachable server is a failure that says so") {
  FakeApiServer server;
  server.down();
  controller::kube::ApiClient client(clusterOf(server));
  auto finding = checkApiPermissions(client, agentPermissions(false));
  CHECK(finding.status == "fail");
  CHECK(finding.detail.find("cannot ask") != std::string::npos);
}
