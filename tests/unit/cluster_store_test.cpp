#include <doctest/doctest.h>

#include <functional>
#include <thread>

#include "controller/state/cluster_store.h"

using namespace bpfproxy::controller;
using namespace std::chrono_literals;

namespace {

Service service(const std::string& name, const std::string& clusterIP = "10.96.0.1") {
  Service result;
  result.meta.namespace_ = "default";
  result.meta.name = name;
  result.clusterIPs = {clusterIP};
  return result;
}

EndpointSlice slice(const std::string& name, const std::string& serviceName,
                    const std::string& address = "10.244.1.5") {
  EndpointSlice result;
  result.meta.namespace_ = "default";
  result.meta.name = name;
  result.meta.labels["kubernetes.io/service-name"] = serviceName;
  result.addressType = "IPv4";
  Endpoint endpoint;
  endpoint.addresses = {address};
  result.endpoints = {endpoint};
  return result;
}

Node node(const std::string& name, const std::string& zone) {
  Node result;
  result.meta.name = name;
  result.zone = zone;
  return result;
}

std::vector<std::string> dirtyNames(ClusterStore& store) {
  std::vector<std::string> names;
  for (const auto& entry : store.takeDirty()) names.push_back(entry.key.name);
  return names;
}

// A store with services a, b, c, slices a-1 (a), b-1 (b), and this node in zone-1; clean.
ClusterStore& populated(ClusterStore& store) {
  store.resync();
  for (const char* name : {"a", "b", "c"}) store.upsertService(service(name));
  store.upsertEndpointSlice(slice("a-1", "a"));
  store.upsertEndpointSlice(slice("b-1", "b"));
  store.upsertNode(node("node-a", "zone-1"));
  store.synced();
  store.takeDirty();
  return store;
}

}  // namespace

TEST_CASE("cluster store: what makes a Service dirty") {
  struct Case {
    const char* description;
    std::function<void(ClusterStore&)> change;
    std::vector<std::string> dirty;
  };
  const Case cases[] = {
      {"nothing", [](ClusterStore&) {}, {}},
      {"an identical Service re-delivered", [](ClusterStore& s) { s.upsertService(service("a")); }, {}},
      {"an identical slice re-delivered", [](ClusterStore& s) { s.upsertEndpointSlice(slice("a-1", "a")); },
       {}},
      {"a changed Service", [](ClusterStore& s) { s.upsertService(service("b", "10.96.0.2")); }, {"b"}},
      {"a new Service", [](ClusterStore& s) { s.upsertService(service("d")); }, {"d"}},
      {"a deleted Service", [](ClusterStore& s) { s.deleteService({"default", "c"}); }, {"c"}},
      {"deleting an unknown Service", [](ClusterStore& s) { s.deleteService({"default", "zz"}); }, {}},
      {"a changed slice",
       [](ClusterStore& s) { s.upsertEndpointSlice(slice("a-1", "a", "10.244.9.9")); }, {"a"}},
      {"a second slice", [](ClusterStore& s) { s.upsertEndpointSlice(slice("a-2", "a")); }, {"a"}},
      {"a deleted slice", [](ClusterStore& s) { s.deleteEndpointSlice("default", "b-1"); }, {"b"}},
      {"a slice moved to another Service: both",
       [](ClusterStore& s) { s.upsertEndpointSlice(slice("a-1", "c")); }, {"a", "c"}},
      {"a slice of a Service not yet seen", [](ClusterStore& s) { s.upsertEndpointSlice(slice("x-1", "x")); },
       {"x"}},
      {"this node's zone changed: all",
       [](ClusterStore& s) { s.upsertNode(node("node-a", "zone-2")); }, {"a", "b", "c"}},
      {"this node re-delivered with the same zone",
       [](ClusterStore& s) { s.upsertNode(node("node-a", "zone-1")); }, {}},
      {"another node", [](ClusterStore& s) { s.upsertNode(node("node-b", "zone-9")); }, {}},
      {"this node deleted: zone unknown, all",
       [](ClusterStore& s) { s.deleteNode("node-a"); }, {"a", "b", "c"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.description);
    ClusterStore store("node-a");
    populated(store);
    c.change(store);
    CHECK(dirtyNames(store) == c.dirty);
    CHECK(dirtyNames(store).empty());  // taking clears
  }
}

TEST_CASE("cluster store: slices are indexed by their Service") {
  ClusterStore store("node-a");
  populated(store);
  store.upsertEndpointSlice(slice("a-2", "a"));
  store.upsertEndpointSlice(slice("a-1", "b"));  // moved
  auto namesFor = [&](const std::string& service) {
    std::vector<std::string> names;
    for (const auto& s : store.slicesFor({"default", service})) names.push_back(s.meta.name);
    return names;
  };
  CHECK(namesFor("a") == std::vector<std::string>{"a-2"});
  CHECK(namesFor("b") == std::vector<std::string>{"a-1", "b-1"});
  CHECK(namesFor("c").empty());
  CHECK(store.service({"default", "a"})->clusterIPs == std::vector<std::string>{"10.96.0.1"});
  CHECK_FALSE(store.service({"default", "zz"}).has_value());
  CHECK(store.serviceKeys().size() == 3);
  CHECK(store.nodeZone() == "zone-1");
}

TEST_CASE("cluster store: a relist deletes what it did not mention") {
  ClusterStore store("node-a");
  CHECK_FALSE(store.hasSynced());
  populated(store);
  CHECK(store.hasSynced());
  auto before = store.counters();

  store.resync();
  store.upsertService(service("a"));                         // unchanged
  store.upsertService(service("b", "10.96.0.9"));            // changed
  store.upsertEndpointSlice(slice("a-1", "a"));              // unchanged
  CHECK(dirtyNames(store) == std::vector<std::string>{"b"});  // nothing deleted yet
  store.synced();

  // c gone; b's slice b-1 gone (b dirty again); the node not mentioned: zone forgotten.
  CHECK(dirtyNames(store) == std::vector<std::string>{"a", "b", "c"});
  CHECK_FALSE(store.service({"default", "c"}).has_value());
  CHECK(store.slicesFor({"default", "b"}).empty());
  CHECK(store.slicesFor({"default", "a"}).size() == 1);
  CHECK(store.nodeZone().empty());
  auto after = store.counters();
  CHECK(after.serviceChanges - before.serviceChanges == 2);  // b changed, c deleted
  CHECK(after.endpointChanges - before.endpointChanges == 1);  // b-1 deleted
}

TEST_CASE("cluster store: a relist of one kind deletes only what that kind did not mention") {
  ClusterStore store("node-a");
  populated(store);
  const std::string zone = store.nodeZone();
  REQUIRE_FALSE(zone.empty());
  auto before = store.counters();

  store.resync(ObjectKind::Service);
  store.upsertService(service("a"));  // unchanged; b and c not mentioned
  store.upsertEndpointSlice(slice("a-2", "a"));  // another kind: kept, and not counted as seen
  CHECK(dirtyNames(store) == std::vector<std::string>{"a"});
  store.synced(ObjectKind::Service);

  CHECK(dirtyNames(store) == std::vector<std::string>{"b", "c"});
  CHECK(store.serviceKeys() == std::vector<ServiceKey>{{"default", "a"}});
  CHECK(store.slicesFor({"default", "a"}).size() == 2);  // slices are not this relist's business
  CHECK(store.slicesFor({"default", "b"}).size() == 1);
  CHECK(store.nodeZone() == zone);                        // nor is the Node
  auto after = store.counters();
  CHECK(after.serviceChanges - before.serviceChanges == 2);  // b and c deleted
  CHECK(after.endpointChanges - before.endpointChanges == 1);  // a-2 added

  // Closing a kind that was never opened deletes nothing.
  store.synced(ObjectKind::EndpointSlice);
  CHECK(store.slicesFor({"default", "a"}).size() == 2);
}

TEST_CASE("cluster store: bypassing Pods of this node, with relist deletions") {
  ClusterStore store("node-a");
  auto pod = [](const std::string& key, const std::string& node, const std::string& cgroup = "") {
    return BypassPod{key, node, {*bpfproxy::IpAddress::parse("10.244.1.5")}, cgroup};
  };
  auto keys = [&] {
    std::vector<std::string> result;
    for (const auto& p : store.bypassPods()) result.push_back(p.key);
    return result;
  };
  store.upsertPod(pod("default/b", "node-a"));
  store.upsertPod(pod("default/a", "node-a", "kubepods/a"));
  store.upsertPod(pod("default/x", "node-b"));  // another node's: ignored
  CHECK(keys() == std::vector<std::string>{"default/a", "default/b"});
  CHECK(store.bypassPods().front().cgroup == "kubepods/a");
  CHECK(store.takeDirty().empty());  // Pods make no Service dirty

  store.deletePod("default/b");
  store.deletePod("default/nope");
  CHECK(keys() == std::vector<std::string>{"default/a"});

  store.upsertPod(pod("default/c", "node-a"));
  store.resync();
  store.upsertPod(pod("default/c", "node-a"));
  store.synced();
  CHECK(keys() == std::vector<std::string>{"default/c"});  // a not mentioned: gone
}

TEST_CASE("cluster store: trigger times are the earliest pending change") {
  ClusterStore store("node-a");
  populated(store);
  auto annotated = [](const std::string& name, const std::string& address, const std::string& time) {
    EndpointSlice result = slice(name, "a", address);
    result.meta.annotations["endpoints.kubernetes.io/last-change-trigger-time"] = time;
    return result;
  };
  store.upsertEndpointSlice(annotated("a-1", "10.244.1.6", "2024-05-01T10:00:05Z"));
  store.upsertEndpointSlice(annotated("a-2", "10.244.1.7", "2024-05-01T10:00:03.5+00:00"));
  store.upsertEndpointSlice(annotated("a-3", "10.244.1.8", "2024-05-01T12:00:09+02:00"));
  auto before = std::chrono::system_clock::now();
  store.upsertService(service("b", "10.96.0.7"));
  store.upsertEndpointSlice(annotated("b-1", "10.244.2.1", "garbage"));
  // Out of range: a year the clock cannot hold (once undefined behaviour), a 13th month.
  store.upsertEndpointSlice(annotated("b-2", "10.244.2.2", "-999-05-01T10:00:00Z"));
  store.upsertEndpointSlice(annotated("b-3", "10.244.2.3", "9999-05-01T10:00:00Z"));
  store.upsertEndpointSlice(annotated("b-4", "10.244.2.4", "2024-13-01T10:00:00Z"));

  auto dirty = store.takeDirty();
  REQUIRE(dirty.size() == 2);
  CHECK(dirty[0].key == ServiceKey{"default", "a"});
  // 2024-05-01T10:00:03.5Z
  auto expected = std::chrono::system_clock::from_time_t(1714557603) + 500ms;
  CHECK(dirty[0].triggerTime == expected);
  CHECK(dirty[1].key == ServiceKey{"default", "b"});
  CHECK(dirty[1].triggerTime >= before);  // arrival time: no usable annotation
}

TEST_CASE("cluster store: waiting for a change, errors") {
  ClusterStore store("node-a");
  CHECK_FALSE(store.waitForChange(10ms));

  std::thread writer([&] {
    std::this_thread::sleep_for(20ms);
    store.upsertService(service("a"));
  });
  CHECK(store.waitForChange(5s));
  writer.join();
  CHECK(dirtyNames(store) == std::vector<std::string>{"a"});

  std::thread waker([&] {
    std::this_thread::sleep_for(20ms);
    store.wakeUp();
  });
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(store.waitForChange(5s));
  CHECK(std::chrono::steady_clock::now() - start < 4s);
  waker.join();

  store.reportError("manifests/bad.yaml: document 2 (Service default/foo): spec.ports[0].port: 0 is not a valid port");
  auto errors = store.takeErrors();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].starts_with("manifests/bad.yaml: document 2"));
  CHECK(store.takeErrors().empty());
}

TEST_CASE("cluster store: this node's eligibility follows its Node") {
  ClusterStore store("node-a");
  CHECK(store.nodeEligible());  // no Node yet: eligible, as kube-proxy starts
  Node deleting = node("node-a", "zone-1");
  deleting.beingDeleted = true;
  store.upsertNode(deleting);
  CHECK_FALSE(store.nodeEligible());
  Node other = node("node-b", "zone-1");
  other.taintKeys = {"ToBeDeletedByClusterAutoscaler"};
  store.upsertNode(other);  // not ours
  CHECK_FALSE(store.nodeEligible());
  store.upsertNode(node("node-a", "zone-1"));
  CHECK(store.nodeEligible());
}
