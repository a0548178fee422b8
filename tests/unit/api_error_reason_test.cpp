// The cause label of bpfproxy_api_errors_total, from the messages the API client raises.
#include <doctest/doctest.h>

#include "controller/source/kube/kube_source.h"

using bpfproxy::controller::kube::apiErrorReason;

TEST_CASE("kube: API errors are labelled by cause") {
  struct Case {
    const char* description;
    const char* message;
    const char* reason;
  };
  const Case cases[] = {
      {"nothing listens", "GET /api/v1/services: no API server answered; https://127.0.0.1:6443: Connection refused",
       "unreachable"},
      {"a connect timeout", "GET /api/v1/services: no API server answered; https://10.0.0.1:6443: Failed to connect to any resolved endpoint",
       "unreachable"},
      {"the client certificate rejected",
       "GET /api/v1/services: no API server answered; https://127.0.0.1:6443: Error in SSL handshake", "tls"},
      {"the client certificate rejected under TLS 1.3",
       "GET /api/v1/services: no API server answered; https://127.0.0.1:6443: Failed to read HTTP status line", "tls"},
      {"the server certificate untrusted", "https://127.0.0.1:6443: certificate verify failed", "tls"},
      {"a client certificate unknown to RBAC", "watch https://127.0.0.1:6443/api/v1/services: HTTP 401 Unauthorized (client certificate /etc/k/c.crt)", "unauthorized"},
      {"RBAC refuses", "list services: HTTP 403 Forbidden", "unauthorized"},
      {"a watch cut mid-stream", "watch https://127.0.0.1:6443/api/v1/services: stream broken: EOF", "watch_broken"},
      {"half an event", "watch https://127.0.0.1:6443/api/v1/services: undecodable event: * Line 1", "watch_broken"},
      {"an unwell server", "GET /api/v1/services: no API server answered; https://127.0.0.1:6443: HTTP 503", "server_error"},
      {"anything else", "something odd", "other"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    CHECK(apiErrorReason(c.message) == c.reason);
  }
}
