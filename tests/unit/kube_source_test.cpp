// KubeSource against the fake API server: list then watch, selection, relist on 410 with
// deletions computed by the sink, reconnects, the Node, bypassing Pods, decode errors and a
// prompt stop.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "controller/source/kube/kube_source.h"
#include "controller/state/cluster_store.h"
#include "tests/support/fake_apiserver.h"

using namespace bpfproxy::controller;
using namespace bpfproxy::controller::kube;
using bpfproxy::testing::FakeApiServer;
using bpfproxy::testing::FakeApiServerOptions;
using bpfproxy::testing::eventually;
using namespace std::chrono_literals;

namespace {

// Keeps the view a sink would: upserts and deletes applied, and what a resync()..synced()
// window (or a resync(kind)..synced(kind) window, for that kind) did not mention removed
// at its end.
class RecordingSink : public SourceSink {
public:
  void upsertService(Service service) override {
    std::lock_guard lock(mutex_);
    mentioned_.insert("svc " + service.key().toString());
    services_[service.key().toString()] = std::move(service);
  }
  void deleteService(const ServiceKey& key) override {
    std::lock_guard lock(mutex_);
    services_.erase(key.toString());
  }
  void upsertEndpointSlice(EndpointSlice slice) override {
    std::lock_guard lock(mutex_);
    const std::string key = slice.meta.namespace_ + "/" + slice.meta.name;
    mentioned_.insert("slice " + key);
    slices_[key] = std::move(slice);
  }
  void deleteEndpointSlice(const std::string& namespace_, const std::string& name) override {
    std::lock_guard lock(mutex_);
    slices_.erase(namespace_ + "/" + name);
  }
  void upsertNode(Node node) override {
    std::lock_guard lock(mutex_);
    mentioned_.insert("node " + node.meta.name);
    nodes_[node.meta.name] = std::move(node);
  }
  void deleteNode(const std::string& name) override {
    std::lock_guard lock(mutex_);
    nodes_.erase(name);
  }
  void upsertPod(const BypassPod& pod) override {
    std::lock_guard lock(mutex_);
    mentioned_.insert("pod " + pod.key);
    pods_[pod.key] = pod;
  }
  void deletePod(const std::string& key) override {
    std::lock_guard lock(mutex_);
    deletedPods_.push_back(key);
    pods_.erase(key);
  }
  void resync() override {
    std::lock_guard lock(mutex_);
    ++resyncs_;
    mentioned_.clear();
  }
  void synced() override {
    std::lock_guard lock(mutex_);
    ++synceds_;
    if (resyncs_ == 0) return;  // no window open: only the first complete view
    eraseUnmentioned(services_, "svc ");
    eraseUnmentioned(slices_, "slice ");
    eraseUnmentioned(nodes_, "node ");
    eraseUnmentioned(pods_, "pod ");
  }
  void resync(ObjectKind kind) override {
    std::lock_guard lock(mutex_);
    ++kindResyncs_[kind];
    std::erase_if(mentioned_, [&](const std::string& m) { return m.starts_with(prefixOf(kind)); });
  }
  void synced(ObjectKind kind) override {
    std::lock_guard lock(mutex_);
    ++kindSynceds_[kind];
    switch (kind) {
      case ObjectKind::Service: eraseUnmentioned(services_, prefixOf(kind)); break;
      case ObjectKind::EndpointSlice: eraseUnmentioned(slices_, prefixOf(kind)); break;
      case ObjectKind::Node: eraseUnmentioned(nodes_, prefixOf(kind)); break;
      case ObjectKind::Pod: eraseUnmentioned(pods_, prefixOf(kind)); break;
    }
  }
  void reportError(const std::string& message) override {
    std::lock_guard lock(mutex_);
    errors_.push_back(message);
  }

  std::set<std::string> services() { return keysOf(services_); }
  std::set<std::string> slices() { return keysOf(slices_); }
  std::set<std::string> pods() { return keysOf(pods_); }
  std::optional<Service> service(const std::string& key) { return find(services_, key); }
  std::optional<Node> node(const std::string& name) { return find(nodes_, name); }
  std::optional<BypassPod> pod(const std::string& key) { return find(pods_, key); }
  std::vector<std::string> deletedPods() {
    std::lock_guard lock(mutex_);
    return deletedPods_;
  }
  int synceds() {
    std::lock_guard lock(mutex_);
    return synceds_;
  }
  int resyncs() {
    std::lock_guard lock(mutex_);
    return resyncs_;
  }
  // How many lists of the kind were delivered (a first list and each relist).
  int listsOf(ObjectKind kind) {
    std::lock_guard lock(mutex_);
    return kindResyncs_[kind] == kindSynceds_[kind] ? kindSynceds_[kind] : -1;
  }
  std::vector<std::string> errors() {
    std::lock_guard lock(mutex_);
    return errors_;
  }

private:
  static std::string prefixOf(ObjectKind kind) {
    switch (kind) {
      case ObjectKind::Service: return "svc ";
      case ObjectKind::EndpointSlice: return "slice ";
      case ObjectKind::Node: return "node ";
      case ObjectKind::Pod: return "pod ";
    }
    return "";
  }
  template <typename T>
  void eraseUnmentioned(std::map<std::string, T>& objects, const std::string& prefix) {
    std::erase_if(objects, [&](const auto& e) { return !mentioned_.contains(prefix + e.first); });
  }
  template <typename T>
  std::set<std::string> keysOf(const std::map<std::string, T>& objects) {
    std::lock_guard lock(mutex_);
    std::set<std::string> keys;
    for (const auto& [key, _] : objects) keys.insert(key);
    return keys;
  }
  template <typename T>
  std::optional<T> find(const std::map<std::string, T>& objects, const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = objects.find(key);
    return it == objects.end() ? std::nullopt : std::optional<T>(it->second);
  }

  std::mutex mutex_;
  std::map<std::string, Service> services_;
  std::map<std::string, EndpointSlice> slices_;
  std::map<std::string, Node> nodes_;
  std::map<std::string, BypassPod> pods_;
  std::vector<std::string> deletedPods_;
  std::set<std::string> mentioned_;
  int resyncs_ = 0;
  int synceds_ = 0;
  std::map<ObjectKind, int> kindResyncs_, kindSynceds_;
  std::vector<std::string> errors_;
};

web::json::value serviceJson(const std::string& name, int port = 80, const std::string& labels = "{}") {
  return web::json::value::parse(R"({"kind": "Service", "apiVersion": "v1", "metadata": {"name": ")" + name +
                                 R"(", "namespace": "default", "labels": )" + labels +
                                 R"(}, "spec": {"ports": [{"name": "http", "port": )" + std::to_string(port) +
                                 "}]}}");
}

web::json::value sliceJson(const std::string& name, const std::string& service, const std::string& ip,
                           const std::string& extraLabels = "") {
  return web::json::value::parse(
      R"({"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1", "metadata": {"name": ")" + name +
      R"(", "namespace": "default", "labels": {"kubernetes.io/service-name": ")" + service + "\"" + extraLabels +
      R"(}}, "addressType": "IPv4", "endpoints": [{"addresses": [")" + ip +
      R"("], "conditions": {"ready": true}}], "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})");
}

constexpr const char* kBypassLabel = R"("labels": {"bpfproxy.io/socket-lb": "bypass"})";

// metadata is the JSON of labels and annotations, e.g. R"("labels": {"a": "b"})".
web::json::value podJson(const std::string& name, const std::string& node, const std::string& metadata,
                         const std::string& ip) {
  return web::json::value::parse(R"({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": ")" + name +
                                 R"(", "namespace": "default")" + (metadata.empty() ? "" : ", " + metadata) +
                                 R"(}, "spec": {"nodeName": ")" + node + R"("}, "status": {"podIPs": [{"ip": ")" +
                                 ip + R"("}]}})");
}

KubeSourceConfig configFor(const FakeApiServer& server, const std::string& nodeName = "", bool watchPods = false) {
  KubeSourceConfig config;
  config.nodeName = nodeName;
  config.watchPods = watchPods;
  config.cluster.servers = {server.url()};
  config.cluster.origin = "test";
  config.backoffInitial = 50ms;
  config.backoffMax = 200ms;
  return config;
}

using Keys = std::set<std::string>;

}  // namespace

TEST_CASE("kube source: first list of both kinds, then synced, updates and deletes stream in") {
  FakeApiServer server;
  server.upsert(serviceJson("web"));
  server.upsert(sliceJson("web-abc", "web", "10.1.0.1"));
  RecordingSink sink;
  KubeSource source(configFor(server));
  CHECK(source.describe().find(server.url()) != std::string::npos);
  source.start(sink);
  REQUIRE(eventually([&] { return sink.synceds() == 1; }));
  CHECK(sink.listsOf(ObjectKind::Service) == 1);  // each kind its own resync window
  CHECK(sink.listsOf(ObjectKind::EndpointSlice) == 1);
  CHECK(sink.resyncs() == 0);
  CHECK(sink.services() == Keys{"default/web"});
  CHECK(sink.slices() == Keys{"default/web-abc"});
  CHECK(source.stats().synced);
  CHECK(source.stats().lastContact.has_value());

  server.upsert(serviceJson("web", 8080));
  server.upsert(serviceJson("db", 5432));
  server.remove("endpointslices", "default", "web-abc");
  REQUIRE(eventually([&] { return sink.slices().empty() && sink.services().size() == 2; }));
  REQUIRE(eventually([&] { return sink.service("default/web")->ports.at(0).port == 8080; }));
  server.remove("services", "default", "db");
  REQUIRE(eventually([&] { return sink.services() == Keys{"default/web"}; }));
  CHECK(sink.synceds() == 1);  // events are not relists
  CHECK(source.stats().relists == 0);
}

TEST_CASE("kube source: server-side selection as kube-proxy's, and --service-proxy-name") {
  FakeApiServer server;
  server.upsert(serviceJson("plain"));
  server.upsert(serviceJson("other-proxy", 80, R"({"service.kubernetes.io/service-proxy-name": "other"})"));
  server.upsert(serviceJson("ours", 80, R"({"service.kubernetes.io/service-proxy-name": "bpfproxy"})"));
  server.upsert(sliceJson("plain-1", "plain", "10.1.0.1"));
  server.upsert(sliceJson("headless-1", "headless", "10.1.0.2", R"(, "service.kubernetes.io/headless": "")"));
  {
    RecordingSink sink;
    KubeSource source(configFor(server));
    CHECK(source.labelSelector() == "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name");
    source.start(sink);
    REQUIRE(eventually([&] { return sink.synceds() == 1; }));
    CHECK(sink.services() == Keys{"default/plain"});
    CHECK(sink.slices() == Keys{"default/plain-1"});
  }
  {
    RecordingSink sink;
    KubeSourceConfig config = configFor(server);
    config.serviceProxyName = "bpfproxy";
    KubeSource source(config);
    source.start(sink);
    REQUIRE(eventually([&] { return sink.synceds() == 1; }));
    CHECK(sink.services() == Keys{"default/ours"});
    // A label change that moves a Service out of our selection arrives as a deletion.
    server.upsert(serviceJson("ours", 80, R"({"service.kubernetes.io/service-proxy-name": "other"})"));
    REQUIRE(eventually([&] { return sink.services().empty(); }));
  }
}

TEST_CASE("kube source: 410 Gone after an outage relists, and the sink computes the deletions") {
  FakeApiServer server;
  server.upsert(serviceJson("keep"));
  server.upsert(serviceJson("gone-while-away"));
  server.upsert(sliceJson("keep-1", "keep", "10.1.0.1"));
  server.upsert(sliceJson("gone-1", "gone-while-away", "10.1.0.2"));
  RecordingSink sink;
  KubeSource source(configFor(server));
  source.start(sink);
  REQUIRE(eventually([&] { return sink.synceds() == 1 && server.state().at("openWatches").as_integer() == 2; }));

  server.down();  // watches cut; the source backs off and retries
  server.remove("services", "default", "gone-while-away");
  server.remove("endpointslices", "default", "gone-1");
  server.upsert(serviceJson("new-while-away"));
  server.compact();  // the resourceVersions the source holds are now too old
  server.up();

  // One relist per kind, each its own window; the first complete view is not announced again.
  REQUIRE(eventually([&] {
    return sink.listsOf(ObjectKind::Service) == 2 && sink.listsOf(ObjectKind::EndpointSlice) == 2;
  }));
  CHECK(sink.synceds() == 1);
  CHECK(sink.services() == Keys{"default/keep", "default/new-while-away"});
  CHECK(sink.slices() == Keys{"default/keep-1"});
  const KubeSourceStats stats = source.stats();
  CHECK(stats.relists == 2);
  CHECK(stats.watchRestarts >= 2);
  CHECK(stats.errors >= 1);

  // And the watches are back: new events flow.
  server.upsert(serviceJson("after"));
  CHECK(eventually([&] { return sink.services().contains("default/after"); }));
}

TEST_CASE("kube source: 410 as an HTTP status on the watch also relists") {
  FakeApiServer server;
  server.upsert(serviceJson("a"));
  RecordingSink sink;
  KubeSource source(configFor(server));
  source.start(sink);
  REQUIRE(eventually([&] { return sink.synceds() == 1 && server.state().at("openWatches").as_integer() == 2; }));
  server.configure(web::json::value::parse(R"({"goneMode": "status"})"));
  server.down();
  server.remove("services", "default", "a");
  server.compact();
  server.up();
  REQUIRE(eventually([&] { return sink.services().empty() && source.stats().relists >= 1; }));
}

TEST_CASE("kube source: a watch cut mid-stream reconnects from its resourceVersion, without a relist") {
  FakeApiServer server;
  RecordingSink sink;
  KubeSource source(configFor(server));
  source.start(sink);
  REQUIRE(eventually([&] { return sink.synceds() == 1 && server.state().at("openWatches").as_integer() == 2; }));
  CHECK(server.cutWatches() == 2);
  server.upsert(serviceJson("after-cut"));
  REQUIRE(eventually([&] { return sink.services() == Keys{"default/after-cut"}; }));
  CHECK(source.stats().relists == 0);
  CHECK(source.stats().watchRestarts >= 2);
  CHECK(sink.synceds() == 1);
}

TEST_CASE("kube source: bookmarks advance the resourceVersion, so a compaction needs no relist") {
  FakeApiServerOptions options;
  options.bookmarkInterval = 0.1;
  FakeApiServer server(options);
  RecordingSink sink;
  KubeSource source(configFor(server));
  source.start(sink);
  REQUIRE(eventually([&] { return sink.synceds() == 1; }));
  // Changes the source's kinds never see move the global resourceVersion; bookmarks tell it.
  server.upsert(web::json::value::parse(R"({"kind": "Node", "apiVersion": "v1", "metadata": {"name": "elsewhere"}})"));
  const int64_t rv = server.state().at("resourceVersion").as_integer();
  std::this_thread::sleep_for(500ms);  // several bookmark intervals
  server.compact();
  server.cutWatches();
  server.upsert(serviceJson("x"));
  REQUIRE(eventually([&] { return sink.services() == Keys{"default/x"}; }));
  CHECK(source.stats().relists == 0);
  CHECK(server.state().at("oldestResourceVersion").as_integer() >= rv);
}

TEST_CASE("kube source: its own Node by field selector, with the zone label and deletion") {
  FakeApiServer server;
  server.upsert(web::json::value::parse(
      R"({"kind": "Node", "apiVersion": "v1", "metadata": {"name": "node-1", "labels": {"topology.kubernetes.io/zone": "z1"}}})"));
  server.upsert(web::json::value::parse(R"({"kind": "Node", "apiVersion": "v1", "metadata": {"name": "node-2"}})"));
  RecordingSink sink;
  KubeSourceConfig config = configFor(server);
  config.nodeName = "node-1";
  KubeSource source(config);
  source.start(sink);
  REQUIRE(eventually([&] { return sink.node("node-1").has_value(); }));
  CHECK(sink.node("node-1")->zone == "z1");
  CHECK_FALSE(sink.node("node-2").has_value());
  server.remove("nodes", "", "node-1");
  CHECK(eventually([&] { return !sink.node("node-1").has_value(); }));
}

TEST_CASE("kube source: this node's bypassing Pods, by label or annotation, listed and watched") {
  FakeApiServer server;
  server.upsert(podJson("labelled", "node-1", kBypassLabel, "10.244.1.5"));
  server.upsert(podJson("annotated", "node-1",
                        R"("annotations": {"bpfproxy.io/socket-lb": "bypass", "bpfproxy.io/cgroup": "kubepods/pod1"})",
                        "10.244.1.6"));
  server.upsert(podJson("elsewhere", "node-2", kBypassLabel, "10.244.2.5"));
  server.upsert(podJson("plain", "node-1", R"("labels": {"app": "web"})", "10.244.1.7"));
  server.upsert(serviceJson("web"));
  RecordingSink sink;
  KubeSource source(configFor(server, "node-1", true));
  source.start(sink);
  REQUIRE(eventually([&] { return sink.pods() == Keys{"default/annotated", "default/labelled"}; }));
  CHECK(sink.pod("default/labelled")->addresses.at(0).toString() == "10.244.1.5");
  CHECK(sink.pod("default/labelled")->cgroup.empty());
  CHECK(sink.pod("default/annotated")->cgroup == "kubepods/pod1");
  CHECK(sink.pod("default/annotated")->nodeName == "node-1");
  CHECK(sink.errors().empty());  // Pods that do not bypass are no errors
  REQUIRE(eventually([&] { return sink.synceds() >= 1; }));

  // Watched: deletion, a Pod labelled later, and one whose label is removed.
  server.remove("pods", "default", "annotated");
  REQUIRE(eventually([&] { return sink.pods() == Keys{"default/labelled"}; }));
  CHECK(sink.deletedPods() == std::vector<std::string>{"default/annotated"});
  server.upsert(podJson("plain", "node-1", kBypassLabel, "10.244.1.7"));
  server.upsert(podJson("labelled", "node-1", "", "10.244.1.5"));
  REQUIRE(eventually([&] { return sink.pods() == Keys{"default/plain"}; }));
  CHECK(sink.deletedPods() == std::vector<std::string>{"default/annotated", "default/labelled"});
  // Another node's Pod never arrives, even when it changes.
  server.upsert(podJson("elsewhere", "node-2", kBypassLabel, "10.244.2.9"));
  server.upsert(podJson("late", "node-1", kBypassLabel, "10.244.1.8"));
  REQUIRE(eventually([&] { return sink.pods() == Keys{"default/late", "default/plain"}; }));
}

TEST_CASE("kube source: without bypassing Pods configured, Pods are never requested") {
  FakeApiServer server;
  server.upsert(podJson("labelled", "node-1", kBypassLabel, "10.244.1.5"));
  server.upsert(serviceJson("web"));
  RecordingSink sink;
  KubeSource source(configFor(server, "node-1"));
  source.start(sink);
  REQUIRE(eventually([&] { return sink.synceds() >= 1 && server.state().at("openWatches").as_integer() == 3; }));
  auto requests = server.state().at("requests");
  CHECK(requests.has_field("GET /api/v1/nodes"));  // the Node is still read
  CHECK_FALSE(requests.has_field("GET /api/v1/pods"));
  CHECK(sink.pods().empty());
}

TEST_CASE("kube source: a 403 is one error naming the verb and resource, asked again slowly") {
  FakeApiServer server;
  server.upsert(serviceJson("web"));
  server.configure(web::json::value::parse(R"({"forbid": ["list pods", "watch pods"]})"));
  RecordingSink sink;
  KubeSourceConfig config = configFor(server, "node-1", true);
  config.backoffMax = 300ms;
  KubeSource source(config);
  source.start(sink);
  REQUIRE(eventually([&] { return source.stats().lastError == "forbidden: list pods"; }));
  CHECK(eventually([&] { return sink.services() == Keys{"default/web"}; }));  // the rest works
  // Asked again at backoffMax, not in a tight loop: about 1 s / 300 ms attempts.
  const auto before = server.state().at("requests").at("GET /api/v1/pods").as_integer();
  std::this_thread::sleep_for(1s);
  const auto asked = server.state().at("requests").at("GET /api/v1/pods").as_integer() - before;
  CHECK(asked >= 2);
  CHECK(asked <= 5);
  // Granted later: the Pods arrive without a restart.
  server.upsert(podJson("labelled", "node-1", kBypassLabel, "10.244.1.5"));
  server.configure(web::json::value::parse(R"({"forbid": []})"));
  CHECK(eventually([&] { return sink.pods() == Keys{"default/labelled"}; }));
}

TEST_CASE("kube source: a relist of Pods deletes the ones gone meanwhile, and Pods do not hold up synced") {
  FakeApiServer server;
  server.upsert(podJson("keep", "node-1", kBypassLabel, "10.244.1.5"));
  server.upsert(podJson("gone-while-away", "node-1", kBypassLabel, "10.244.1.6"));
  server.upsert(serviceJson("web"));
  RecordingSink sink;
  KubeSource source(configFor(server, "node-1", true));
  source.start(sink);
  REQUIRE(eventually([&] {
    return sink.pods().size() == 2 && sink.synceds() >= 1 && server.state().at("openWatches").as_integer() == 4;
  }));
  server.down();
  server.remove("pods", "default", "gone-while-away");
  server.compact();
  server.up();
  REQUIRE(eventually([&] { return sink.pods() == Keys{"default/keep"}; }));
  CHECK(sink.services() == Keys{"default/web"});  // the other kinds as they were
}

TEST_CASE("kube source: an object that does not decode is reported by name and skipped") {
  FakeApiServer server;
  auto bad = serviceJson("bad");
  bad.at("spec").at("ports")[0]["protocol"] = web::json::value::string("HTTP");
  server.upsert(bad);
  server.upsert(serviceJson("good"));
  RecordingSink sink;
  KubeSource source(configFor(server));
  source.start(sink);
  REQUIRE(eventually([&] { return sink.synceds() == 1; }));
  CHECK(sink.services() == Keys{"default/good"});
  REQUIRE(sink.errors().size() == 1);
  CHECK(sink.errors()[0].find("Service default/bad") != std::string::npos);
}

TEST_CASE("kube source: stop is prompt with watches open, and no sink call follows it") {
  FakeApiServer server;
  RecordingSink sink;
  KubeSourceConfig config = configFor(server);
  config.watchTimeout = 300s;
  KubeSource source(config);
  source.start(sink);
  REQUIRE(eventually([&] { return server.state().at("openWatches").as_integer() == 2; }));
  const auto before = std::chrono::steady_clock::now();
  source.stop();
  CHECK(std::chrono::steady_clock::now() - before < 2s);
  server.upsert(serviceJson("late"));
  std::this_thread::sleep_for(200ms);
  CHECK(sink.services().empty());
}

TEST_CASE("kube source: with the API server unreachable, it keeps retrying and says why") {
  FakeApiServer server;
  server.down();
  RecordingSink sink;
  KubeSource source(configFor(server));
  source.start(sink);
  REQUIRE(eventually([&] { return source.stats().errors >= 3; }));
  CHECK(source.stats().lastError.find("no API server answered") != std::string::npos);
  CHECK(sink.synceds() == 0);
  server.up();
  REQUIRE(eventually([&] { return sink.synceds() == 1; }));
  CHECK(source.stats().lastError.empty());
}

TEST_CASE("kube delivery: a relist of one kind into the store leaves the other kinds alone") {
  ApiHealth health(1s);
  ApiDelivery delivery("node-1", health);
  ClusterStore store("node-1");
  delivery.bind(store);
  delivery.deliverList(ObjectKind::Service, {serviceJson("a"), serviceJson("b")});
  CHECK_FALSE(store.hasSynced());  // Services alone are no complete view
  delivery.deliverList(ObjectKind::EndpointSlice, {sliceJson("a-1", "a", "10.1.0.1"), sliceJson("b-1", "b", "10.1.0.2")});
  REQUIRE(store.hasSynced());
  CHECK(health.stats().synced);
  store.takeDirty();
  const auto before = store.counters();

  // b is gone from the relisted Services; the slices are not delivered again.
  delivery.deliverList(ObjectKind::Service, {serviceJson("a")});
  CHECK(store.serviceKeys() == std::vector<ServiceKey>{{"default", "a"}});
  auto dirty = store.takeDirty();
  REQUIRE(dirty.size() == 1);
  CHECK(dirty[0].key.name == "b");
  CHECK(store.counters().endpointChanges == before.endpointChanges);
  CHECK(store.slicesFor({"default", "a"}).size() == 1);

  // An event that does not decode removes the object, as a relist would, and says why.
  auto bad = serviceJson("a");
  bad.at("spec").at("ports")[0]["protocol"] = web::json::value::string("HTTP");
  delivery.deliverEvent(ObjectKind::Service, {"MODIFIED", bad});
  CHECK(store.serviceKeys().empty());
  auto errors = store.takeErrors();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("Service default/a") != std::string::npos);
}
