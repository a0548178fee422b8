#include <doctest/doctest.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "controller/state/cluster_store.h"
#include "controller/source/manifests_source.h"
#include "controller/source/yaml_documents.h"

using namespace bpfproxy::controller;
using web::json::value;
namespace fs = std::filesystem;

namespace {

// Records every sink call as a line, in order.
struct RecordingSink : SourceSink {
  std::vector<std::string> calls;
  std::vector<Service> services;
  std::vector<EndpointSlice> slices;
  std::vector<Node> nodes;
  std::vector<std::string> errors;

  void upsertService(Service service) override {
    calls.push_back("service " + service.key().toString());
    services.push_back(std::move(service));
  }
  void deleteService(const ServiceKey& key) override { calls.push_back("delete " + key.toString()); }
  void upsertEndpointSlice(EndpointSlice slice) override {
    calls.push_back("slice " + slice.meta.namespace_ + "/" + slice.meta.name);
    slices.push_back(std::move(slice));
  }
  void deleteEndpointSlice(const std::string&, const std::string&) override { calls.push_back("delete slice"); }
  void upsertNode(Node node) override {
    calls.push_back("node " + node.meta.name);
    nodes.push_back(std::move(node));
  }
  void deleteNode(const std::string&) override { calls.push_back("delete node"); }
  void synced() override { calls.push_back("synced"); }
  void resync() override { calls.push_back("resync"); }
  // The manifests source re-reads the whole directory: never a relist of one kind.
  void resync(ObjectKind) override { calls.push_back("resync kind"); }
  void synced(ObjectKind) override { calls.push_back("synced kind"); }
  void reportError(const std::string& message) override { errors.push_back(message); }

  const Service* service(const std::string& name) const {
    for (const auto& s : services)
      if (s.meta.name == name) return &s;
    return nullptr;
  }
};

// A directory that does not outlive the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "bpfproxy-manifests-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
  }
};

const std::string kFixtures = std::string(BPFPROXY_SOURCE_DIR) + "/tests/unit/testdata/manifests";

bool eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 500; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

TEST_CASE("manifests: YAML scalars keep their types") {
  auto documents = parseYamlDocuments(R"(
port: 80
negative: -3
plus: +7
quotedNumber: "80"
singleQuoted: '443'
yes: true
quotedBool: "true"
ratio: 1.5
nothing: ~
empty:
word: hello
list: [1, "2", x]
---
second: document
)");
  REQUIRE(documents.size() == 2);
  const value& doc = documents[0];
  struct Case {
    const char* field;
    value expected;
  };
  const Case cases[] = {
      {"port", value::number(80)},
      {"negative", value::number(-3)},
      {"plus", value::number(7)},
      {"quotedNumber", value::string("80")},
      {"singleQuoted", value::string("443")},
      {"yes", value::boolean(true)},
      {"quotedBool", value::string("true")},
      {"ratio", value::number(1.5)},
      {"nothing", value::null()},
      {"empty", value::null()},
      {"word", value::string("hello")},
  };
  for (const auto& c : cases) {
    CAPTURE(c.field);
    REQUIRE(doc.has_field(c.field));
    CHECK(doc.at(c.field) == c.expected);
  }
  CHECK(doc.at("list").serialize() == R"([1,"2","x"])");
  CHECK(documents[1].at("second").as_string() == "document");
}

TEST_CASE("manifests: a directory is delivered whole, bad files reported by name") {
  RecordingSink sink;
  ManifestsSource source(kFixtures);
  source.loadOnce(sink);

  REQUIRE(!sink.calls.empty());
  CHECK(sink.calls.front() == "resync");
  CHECK(sink.calls.back() == "synced");
  auto delivered = std::vector<std::string>(sink.calls.begin() + 1, sink.calls.end() - 1);
  std::sort(delivered.begin(), delivered.end());
  CHECK(delivered == std::vector<std::string>{"node node-a", "service default/api",
                                              "service default/fine", "service shop/web",
                                              "slice default/api-1", "slice shop/web-1"});

  // Typed the way the API server would have them.
  const Service* web = sink.service("web");
  REQUIRE(web != nullptr);
  CHECK(web->meta.labels.at("version") == "1");
  CHECK(web->ports.at(0).targetPortName == "http-web");
  const Service* api = sink.service("api");
  REQUIRE(api != nullptr);
  CHECK(api->clusterIPs == std::vector<std::string>{"10.96.0.21"});
  CHECK(api->ports.at(0).targetPortNumber == 9443);
  REQUIRE(sink.nodes.size() == 1);
  CHECK(sink.nodes[0].zone == "zone-1");

  REQUIRE(sink.errors.size() == 2);
  CHECK(sink.errors[0] == kFixtures + "/bad.yaml: document 2 (Service default/broken): "
                                      "spec.ports[0].port: 70000 is not a valid port");
  CHECK(sink.errors[1].starts_with(kFixtures + "/unparsable.yaml: does not parse: "));
}

TEST_CASE("manifests: JSON files, Lists and objects that do not decode") {
  struct Case {
    const char* description;
    const char* file;
    std::string text;
    std::vector<std::string> calls;
    std::string error;  // after "<dir>/<file>: "
  };
  const Case cases[] = {
      {"a JSON List", "list.json",
       R"({"apiVersion":"v1","kind":"List","items":[
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"a","namespace":"x"},"spec":{"clusterIP":"10.96.0.1"}},
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}]})",
       {"resync", "service x/a", "synced"}, ""},
      {"a ServiceList from kubectl get -o yaml, one bad item", "services.yaml",
       "apiVersion: v1\nkind: ServiceList\nitems:\n"
       "- {apiVersion: v1, kind: Service, metadata: {name: a}, spec: {ports: [{port: 80}]}}\n"
       "- {apiVersion: v1, kind: Service, metadata: {name: b}, spec: {ports: [{port: 80, protocol: ICMP}]}}\n",
       {"resync", "service default/a", "synced"},
       "document 1 item 2 (Service default/b): spec.ports[0].protocol: \"ICMP\" is not a supported protocol"},
      {"a slice with a bad address", "slice.yaml",
       "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s, namespace: x}\n"
       "addressType: IPv4\nendpoints: [{addresses: [10.0.0.256]}]\n",
       {"resync", "synced"},
       "document 1 (EndpointSlice x/s): endpoints[0].addresses[0]: \"10.0.0.256\" is not a valid IPv4 address"},
      {"a Service without a name", "noname.yaml", "apiVersion: v1\nkind: Service\nmetadata: {}\n",
       {"resync", "synced"}, "document 1 (Service): metadata.name: required"},
      {"a document that is not an object", "scalar.yaml", "just a string\n", {"resync", "synced"},
       "document 1: not an object"},
      {"malformed JSON", "broken.json", "{\"kind\": ", {"resync", "synced"}, "does not parse: "},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    TempDir dir;
    dir.write(c.file, c.text);
    dir.write("ignored.txt", "not: a manifest");
    RecordingSink sink;
    ManifestsSource(dir.path).loadOnce(sink);
    CHECK(sink.calls == c.calls);
    if (c.error.empty()) {
      CHECK(sink.errors.empty());
    } else {
      REQUIRE(sink.errors.size() == 1);
      CHECK(sink.errors[0].starts_with((dir.path / c.file).string() + ": " + c.error));
    }
  }
}

TEST_CASE("manifests: an unreadable directory keeps what was delivered") {
  RecordingSink sink;
  ManifestsSource source("/nonexistent/bpfproxy-manifests");
  source.loadOnce(sink);
  CHECK(sink.calls.empty());  // no resync: nothing gets deleted
  REQUIRE(sink.errors.size() == 1);
  CHECK(sink.errors[0].starts_with("manifests /nonexistent/bpfproxy-manifests: "));
  CHECK(source.describe() == "manifests /nonexistent/bpfproxy-manifests");
}

TEST_CASE("manifests: polling picks up changes and the store deletes what went away") {
  TempDir dir;
  const std::string service =
      "apiVersion: v1\nkind: Service\nmetadata: {name: NAME}\nspec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}\n";
  auto named = [&](const std::string& name) {
    std::string text = service;
    text.replace(text.find("NAME"), 4, name);
    return text;
  };
  dir.write("a.yaml", named("alpha"));
  ClusterStore store("node-a");
  ManifestsSource source(dir.path, std::chrono::milliseconds(10));
  source.start(store);

  REQUIRE(eventually([&] { return store.hasSynced() && store.service({"default", "alpha"}); }));
  store.takeDirty();

  dir.write("a.yaml", named("bravo-renamed"));
  REQUIRE(eventually([&] { return store.service({"default", "bravo-renamed"}).has_value(); }));
  CHECK(eventually([&] { return !store.service({"default", "alpha"}).has_value(); }));
  source.stop();

  std::vector<std::string> dirty;
  for (const auto& entry : store.takeDirty()) dirty.push_back(entry.key.toString());
  CHECK(dirty == std::vector<std::string>{"default/alpha", "default/bravo-renamed"});
  CHECK(store.takeErrors().empty());
}

TEST_CASE("manifests: inotify delivers a change without waiting for the poll") {
  TempDir dir;
  dir.write("a.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: alpha}\nspec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}\n");
  ClusterStore store("node-a");
  // A poll interval far longer than the test's patience: only inotify can explain a reload.
  ManifestsSource source(dir.path, std::chrono::hours(1));
  source.start(store);
  REQUIRE(eventually([&] { return store.hasSynced() && store.service({"default", "alpha"}); }));

  dir.write("b.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: bravo}\nspec: {clusterIP: 10.96.0.2, ports: [{port: 80}]}\n");
  CHECK(eventually([&] { return store.service({"default", "bravo"}).has_value(); }));
  source.stop();
}

TEST_CASE("manifests: this node's bypassing Pods reach the store, and go with their file") {
  TempDir dir;
  dir.write("pods.yaml", R"(apiVersion: v1
kind: Pod
metadata: {name: mesh, labels: {bpfproxy.io/socket-lb: bypass}}
spec: {nodeName: node-a}
status: {podIP: 10.200.0.9}
---
apiVersion: v1
kind: Pod
metadata: {name: elsewhere, labels: {bpfproxy.io/socket-lb: bypass}}
spec: {nodeName: node-b}
status: {podIP: 10.200.128.9}
---
apiVersion: v1
kind: Pod
metadata: {name: plain}
spec: {nodeName: node-a}
status: {podIP: 10.200.0.10}
)");
  ClusterStore store("node-a");
  ManifestsSource source(dir.path, std::chrono::milliseconds(10));
  source.start(store);
  REQUIRE(eventually([&] { return store.hasSynced() && !store.bypassPods().empty(); }));
  auto pods = store.bypassPods();
  REQUIRE(pods.size() == 1);
  CHECK(pods[0].key == "default/mesh");
  REQUIRE(pods[0].addresses.size() == 1);
  CHECK(pods[0].addresses[0].toString() == "10.200.0.9");

  fs::remove(dir.path / "pods.yaml");
  CHECK(eventually([&] { return store.bypassPods().empty(); }));
  source.stop();
  CHECK(store.takeErrors().empty());
}
