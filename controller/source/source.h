#pragma once
// Where Services and EndpointSlices come from: a directory of manifests or the Kubernetes
// API. A source pushes changes into a sink; the agent owns the sink.
#include <string>

#include "controller/model/bypass_pod.h"
#include "controller/model/kube_objects.h"

namespace bpfproxy::controller {

// What a source delivers, named for a relist of one kind.
enum class ObjectKind { Service, EndpointSlice, Node, Pod };
inline constexpr ObjectKind kObjectKinds[] = {ObjectKind::Service, ObjectKind::EndpointSlice, ObjectKind::Node,
                                              ObjectKind::Pod};

class SourceSink {
public:
  virtual ~SourceSink() = default;
  virtual void upsertService(Service service) = 0;
  virtual void deleteService(const ServiceKey& key) = 0;
  // Slices are keyed by their own namespace/name.
  virtual void upsertEndpointSlice(EndpointSlice slice) = 0;
  virtual void deleteEndpointSlice(const std::string& namespace_, const std::string& name) = 0;
  virtual void upsertNode(Node node) = 0;
  virtual void deleteNode(const std::string& name) = 0;
  // Pods that bypass the socket hooks, keyed by namespace/name (the store keeps this
  // node's; the TC agent reads them from it). No-ops by default, for sinks that ignore them.
  virtual void upsertPod(const BypassPod& pod) { (void)pod; }
  virtual void deletePod(const std::string& key) { (void)key; }
  // A complete view has been delivered (the first full list, or a relist): objects not
  // mentioned since the previous resync() began are gone.
  virtual void synced() = 0;
  // A relist begins: what follows until synced() is the whole state.
  virtual void resync() = 0;
  // The same for one kind (the API source lists each kind on its own): the objects of
  // `kind` delivered from resync(kind) to synced(kind) are all there are of it, and the
  // other kinds are left as they are. A first complete view still ends with synced().
  virtual void resync(ObjectKind kind) = 0;
  virtual void synced(ObjectKind kind) = 0;
  // Bad input that was skipped: "file x.yaml, Service default/foo: spec.ports[0].port: ...".
  virtual void reportError(const std::string& message) = 0;
};

class Source {
public:
  virtual ~Source() = default;
  // Starts delivering to the sink from a thread of the source's own; returns at once.
  virtual void start(SourceSink& sink) = 0;
  // Stops and joins; no sink call happens after it returns.
  virtual void stop() = 0;
  virtual std::string describe() const = 0;  // "manifests /etc/bpfproxy/manifests"
};

// A source started into a sink for the lifetime of this object. Declared after the sink,
// it stops the source before the sink is destroyed on every way out of the scope, an
// exception included, so the source's thread never writes into a destroyed sink.
class RunningSource {
public:
  RunningSource(Source& source, SourceSink& sink) : source_(source) { source_.start(sink); }
  ~RunningSource() { source_.stop(); }
  RunningSource(const RunningSource&) = delete;
  RunningSource& operator=(const RunningSource&) = delete;

private:
  Source& source_;
};

}  // namespace bpfproxy::controller
