#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "controller/source/deferred_sink.h"
#include "controller/source/manifests_source.h"

using namespace bpfproxy::controller;
namespace fs = std::filesystem;

namespace {

// Every call as a line, errors included, in the order the sink received them.
struct OrderSink : SourceSink {
  std::vector<std::string> calls;
  void upsertService(Service service) override { calls.push_back("service " + service.key().toString()); }
  void deleteService(const ServiceKey& key) override { calls.push_back("delete " + key.toString()); }
  void upsertEndpointSlice(EndpointSlice slice) override { calls.push_back("slice " + slice.meta.name); }
  void deleteEndpointSlice(const std::string&, const std::string&) override { calls.push_back("delete slice"); }
  void upsertNode(Node node) override { calls.push_back("node " + node.meta.name); }
  void deleteNode(const std::string&) override { calls.push_back("delete node"); }
  void upsertPod(const BypassPod& pod) override { calls.push_back("pod " + pod.key); }
  void synced() override { calls.push_back("synced"); }
  void resync() override { calls.push_back("resync"); }
  void resync(ObjectKind) override { calls.push_back("resync kind"); }
  void synced(ObjectKind) override { calls.push_back("synced kind"); }
  void reportError(const std::string& message) override { calls.push_back("error " + message); }
};

// What index i decodes to: none, one or several objects of each kind, sometimes an error.
void decodeIndex(size_t i, SourceSink& sink) {
  const std::string name = std::to_string(i);
  for (size_t j = 0; j < i % 3; ++j) {
    Service service;
    service.meta.namespace_ = "ns";
    service.meta.name = name + "-" + std::to_string(j);
    sink.upsertService(std::move(service));
  }
  if (i % 5 == 1) {
    EndpointSlice slice;
    slice.meta.name = name;
    sink.upsertEndpointSlice(std::move(slice));
  }
  if (i % 11 == 4) {
    Node node;
    node.meta.name = name;
    sink.upsertNode(std::move(node));
  }
  if (i % 13 == 6) sink.upsertPod(BypassPod{"ns/" + name, "node", {}, ""});
  if (i % 7 == 0) sink.reportError("bad " + name);
}

}  // namespace

TEST_CASE("decodeInParallel: every call reaches the sink in index order, however the work is split") {
  std::mt19937 random(12);
  for (int round = 0; round < 200; ++round) {
    const size_t count = random() % 300;
    std::vector<size_t> weights(count);
    for (auto& weight : weights) weight = random() % 4 == 0 ? 0 : random() % 1000;
    const unsigned threads = 1 + random() % 6;
    CAPTURE(round);
    CAPTURE(count);
    CAPTURE(threads);
    OrderSink serial;
    for (size_t i = 0; i < count; ++i) decodeIndex(i, serial);
    OrderSink parallel;
    decodeInParallel(count, [&](size_t i) { return weights[i]; }, decodeIndex, parallel, threads);
    CHECK(parallel.calls == serial.calls);
  }
}

TEST_CASE("DeferredSink refuses what a decoder must not do") {
  DeferredSink sink;
  CHECK_THROWS_AS(sink.deleteService({"a", "b"}), std::logic_error);
  CHECK_THROWS_AS(sink.resync(), std::logic_error);
  CHECK_THROWS_AS(sink.synced(ObjectKind::Pod), std::logic_error);
}

TEST_CASE("manifests: a directory large enough to decode on several threads keeps the file order") {
  std::string pattern = (fs::temp_directory_path() / "bpfproxy-parallel-XXXXXX").string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  const fs::path dir = pattern;
  // A List of 3,000 items (well over the threshold), every 97th a Service with a bad port,
  // every 101st not JSON; then a YAML file with two documents and a broken JSON file.
  std::vector<std::string> expected{"resync"};
  std::string list = R"({"apiVersion":"v1","kind":"List","items":[)";
  const std::string file = (dir / "a-list.json").string();
  for (int i = 0; i < 3000; ++i) {
    const std::string name = "svc-" + std::to_string(i);
    const std::string where = file + ": document 1 item " + std::to_string(i + 1);
    if (i) list += ",";
    if (i % 101 == 50) {
      list += R"({"kind": nonsense})";
      expected.push_back("error " + where + ": does not parse: ");
    } else if (i % 97 == 3) {
      list += R"({"apiVersion":"v1","kind":"Service","metadata":{"name":")" + name +
              R"(","namespace":"x"},"spec":{"clusterIP":"10.96.0.1","ports":[{"port":70000}]}})";
      expected.push_back("error " + where + " (Service x/" + name + "): spec.ports[0].port: 70000 is not a valid port");
    } else {
      list += R"({"apiVersion":"v1","kind":"Service","metadata":{"name":")" + name +
              R"(","namespace":"x","labels":{"padding":")" + std::string(100, 'p') +
              R"("}},"spec":{"clusterIP":"10.96.0.1","ports":[{"port":80}]}})";
      expected.push_back("service x/" + name);
    }
  }
  list += "]}";
  REQUIRE(list.size() > 300 * 1024);
  std::ofstream(dir / "a-list.json") << list;
  std::ofstream(dir / "b.yaml") << "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\n"
                                   "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
                                   "metadata: {name: s1, namespace: x}\naddressType: IPv4\n";
  expected.push_back("node n1");
  expected.push_back("slice s1");
  std::ofstream(dir / "c.json") << "{\"kind\": ";
  expected.push_back("error " + (dir / "c.json").string() + ": does not parse: ");
  expected.push_back("synced");

  OrderSink sink;
  ManifestsSource(dir).loadOnce(sink);
  fs::remove_all(dir);
  REQUIRE(sink.calls.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    // Parse errors end with the parser's own words.
    if (expected[i].ends_with("does not parse: "))
      CHECK(sink.calls[i].starts_with(expected[i]));
    else
      CHECK(sink.calls[i] == expected[i]);
  }
}
