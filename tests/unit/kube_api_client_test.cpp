// The API client against the fake API server (a Python subprocess on 127.0.0.1): lists,
// streaming watches, bookmarks, 410 Gone, TLS with token and client-certificate auth, failover.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>

#include "controller/source/kube/api_client.h"
#include "tests/support/fake_apiserver.h"

using namespace bpfproxy::controller::kube;
using bpfproxy::testing::FakeApiServer;
using bpfproxy::testing::FakeApiServerOptions;
using bpfproxy::testing::eventually;
using bpfproxy::testing::TestPki;
using namespace std::chrono_literals;

namespace {

web::json::value serviceJson(const std::string& name, const std::string& labelKey = "") {
  std::string labels = labelKey.empty() ? "{}" : "{\"" + labelKey + "\": \"other\"}";
  return web::json::value::parse(R"({"kind": "Service", "apiVersion": "v1", "metadata": {"name": ")" + name +
                                 R"(", "namespace": "default", "labels": )" + labels +
                                 R"(}, "spec": {"ports": [{"name": "http", "port": 80}]}})");
}

ClusterConfig plain(const FakeApiServer& server) {
  ClusterConfig config;
  config.servers = {server.url()};
  return config;
}

// Runs a watch on a thread, recording events, until cancelled or ended.
struct WatchRecorder {
  std::mutex mutex;
  std::vector<WatchEvent> events;
  std::string error;
  std::atomic<bool> ended{false};
  pplx::cancellation_token_source cancel;
  std::thread thread;

  WatchRecorder(ApiClient& client, const std::string& path, const std::string& rv, Selectors selectors = {},
                std::chrono::seconds timeout = 60s) {
    thread = std::thread([this, &client, path, rv, selectors, timeout] {
      try {
        client.watch(path, selectors, rv, timeout,
                     [this](const WatchEvent& event) {
                       std::lock_guard lock(mutex);
                       events.push_back(event);
                     },
                     cancel.get_token());
      } catch (const pplx::task_canceled&) {
        error = "canceled";
      } catch (const std::exception& e) {
        error = e.what();
      }
      ended = true;
    });
  }
  ~WatchRecorder() {
    cancel.cancel();
    thread.join();
  }
  std::size_t count(const std::string& type) {
    std::lock_guard lock(mutex);
    return std::count_if(events.begin(), events.end(), [&](const WatchEvent& e) { return e.type == type; });
  }
  WatchEvent last(const std::string& type) {
    std::lock_guard lock(mutex);
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->type == type) return *it;
    }
    return {};
  }
};

}  // namespace

TEST_CASE("api client: paginated list with a label selector returns items and resourceVersion") {
  FakeApiServer server;
  for (int i = 0; i < 5; ++i) {
    server.upsert(serviceJson("svc-" + std::to_string(i)));
  }
  server.upsert(serviceJson("theirs", "service.kubernetes.io/service-proxy-name"));
  ApiClientOptions options;
  options.pageSize = 2;
  ApiClient client(plain(server), options);
  const ListResult all = client.list("/api/v1/services", {});
  CHECK(all.items.size() == 6);
  CHECK(all.resourceVersion == std::to_string(server.state().at("resourceVersion").as_integer()));
  const ListResult ours =
      client.list("/api/v1/services", {"!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name", ""});
  CHECK(ours.items.size() == 5);
  // 6 items in pages of 2, then 5 in pages of 2: 3 + 3 requests.
  CHECK(server.state().at("requests").at("GET /api/v1/services").as_integer() == 6);
  const ListResult node = client.list("/api/v1/nodes", {"", "metadata.name=node-1"});
  CHECK(node.items.empty());
}

TEST_CASE("api client: watch events arrive while the response is still open, cancel is prompt") {
  FakeApiServer server;
  ApiClient client(plain(server));
  const std::string rv = client.list("/api/v1/services", {}).resourceVersion;
  WatchRecorder watch(client, "/api/v1/services", rv);
  server.upsert(serviceJson("a"));
  REQUIRE(eventually([&] { return watch.count("ADDED") == 1; }));
  auto modified = serviceJson("a");
  modified.at("spec").at("ports")[0]["port"] = 8080;
  server.upsert(modified);
  server.remove("services", "default", "a");
  REQUIRE(eventually([&] { return watch.count("DELETED") == 1; }));
  CHECK(watch.count("MODIFIED") == 1);
  CHECK_FALSE(watch.ended);  // the stream is still open: nothing waited for its end
  CHECK(watch.last("DELETED").object.at("metadata").at("name").as_string() == "a");

  const auto before = std::chrono::steady_clock::now();
  watch.cancel.cancel();
  REQUIRE(eventually([&] { return watch.ended.load(); }, 3s));
  CHECK(std::chrono::steady_clock::now() - before < 2s);
}

TEST_CASE("api client: bookmarks carry a newer resourceVersion, timeoutSeconds ends the stream cleanly") {
  FakeApiServerOptions options;
  options.bookmarkInterval = 0.2;
  FakeApiServer server(options);
  ApiClient client(plain(server));
  const std::string rv = client.list("/api/v1/services", {}).resourceVersion;
  server.upsert(web::json::value::parse(R"({"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n1"}})"));
  WatchRecorder watch(client, "/api/v1/services", rv, {}, 2s);
  REQUIRE(eventually([&] { return watch.count("BOOKMARK") >= 1; }));
  const auto bookmark = watch.last("BOOKMARK");
  CHECK(std::stoll(bookmark.object.at("metadata").at("resourceVersion").as_string()) > std::stoll(rv));
  REQUIRE(eventually([&] { return watch.ended.load(); }, 5s));
  CHECK(watch.error.empty());
}

TEST_CASE("api client: a compacted resourceVersion is 410 Gone, as an ERROR event or as the status") {
  FakeApiServer server;
  ApiClient client(plain(server));
  const std::string rv = client.list("/api/v1/services", {}).resourceVersion;
  server.upsert(serviceJson("a"));
  server.compact();
  for (const char* mode : {"event", "status"}) {
    CAPTURE(mode);
    server.configure(web::json::value::parse(std::string(R"({"goneMode": ")") + mode + "\"}"));
    try {
      client.watch("/api/v1/services", {}, rv, 5s, [](const WatchEvent&) {});
      FAIL("no error");
    } catch (const ApiError& e) {
      CHECK(e.isGone());
      CHECK(e.code() == 410);
      CHECK(std::string(e.what()).find("Expired") != std::string::npos);
    }
  }
}

TEST_CASE("api client: bearer token over TLS, a wrong token is a clear 401") {
  TestPki pki;
  FakeApiServerOptions options;
  options.tls = &pki;
  options.tokens = {"good-token"};
  FakeApiServer server(options);
  ClusterConfig config = plain(server);
  config.tls.certificateAuthority.file = pki.file("ca.crt");
  config.token = BearerToken::fixed("good-token");
  CHECK(ApiClient(config).list("/api/v1/services", {}).items.empty());

  config.token = BearerToken::fixed("bad-token");
  try {
    ApiClient(config).list("/api/v1/services", {});
    FAIL("no error");
  } catch (const ApiError& e) {
    CHECK(e.code() == 401);
    const std::string message = e.what();
    CHECK(message.find("401 Unauthorized") != std::string::npos);
    CHECK(message.find(server.url()) != std::string::npos);
    CHECK(message.find("static token") != std::string::npos);
  }

  // A server certificate from a CA we do not trust: no request gets through.
  config.token = BearerToken::fixed("good-token");
  config.tls.certificateAuthority.file = pki.file("other-ca.crt");
  CHECK_THROWS_AS(ApiClient(config).list("/api/v1/services", {}), TransportError);
  config.tls.insecureSkipTlsVerify = true;
  CHECK_NOTHROW(ApiClient(config).list("/api/v1/services", {}));
}

TEST_CASE("api client: client-certificate auth over TLS, from files and from data") {
  TestPki pki;
  FakeApiServerOptions options;
  options.tls = &pki;
  FakeApiServer server(options);
  ClusterConfig config = plain(server);
  config.tls.certificateAuthority.file = pki.file("ca.crt");
  // No credentials: 401.
  CHECK_THROWS_AS(ApiClient(config).list("/api/v1/services", {}), ApiError);

  config.tls.clientCertificate.file = pki.file("client.crt");
  config.tls.clientKey.file = pki.file("client.key");
  CHECK(ApiClient(config).list("/api/v1/services", {}).items.empty());

  auto slurp = [](const std::filesystem::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  ClusterConfig fromData = plain(server);
  fromData.tls.certificateAuthority.data = slurp(pki.file("ca.crt"));
  fromData.tls.clientCertificate.data = slurp(pki.file("client.crt"));
  fromData.tls.clientKey.data = slurp(pki.file("client.key"));
  ApiClient client(fromData);
  const std::string rv = client.list("/api/v1/services", {}).resourceVersion;
  WatchRecorder watch(client, "/api/v1/services", rv);
  server.upsert(serviceJson("tls"));
  CHECK(eventually([&] { return watch.count("ADDED") == 1; }));
}

TEST_CASE("api client: --api-server with two URLs fails over to the one that answers") {
  FakeApiServer server;
  ClusterConfig config;
  config.servers = {"http://127.0.0.1:" + std::to_string(bpfproxy::testing::unusedPort()), server.url()};
  ApiClient client(config);
  CHECK(client.list("/api/v1/services", {}).items.empty());
  CHECK(client.currentServer() == server.url());

  config.servers = {"http://127.0.0.1:" + std::to_string(bpfproxy::testing::unusedPort())};
  try {
    ApiClient(config).list("/api/v1/services", {});
    FAIL("no error");
  } catch (const TransportError& e) {
    CHECK(std::string(e.what()).find("no API server answered") != std::string::npos);
  }
}
