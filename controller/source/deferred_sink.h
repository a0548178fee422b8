#pragma once
// Sink calls kept in order and replayed later into another sink: a manifests directory is
// decoded on several threads, each into its own DeferredSink, and the store still receives
// every object and error in the order of the files and of the objects in them.
#include <functional>
#include <variant>
#include <vector>

#include "controller/source/source.h"

namespace bpfproxy::controller {

class DeferredSink : public SourceSink {
public:
  void upsertService(Service service) override { calls_.emplace_back(std::move(service)); }
  void upsertEndpointSlice(EndpointSlice slice) override { calls_.emplace_back(std::move(slice)); }
  void upsertNode(Node node) override { calls_.emplace_back(std::move(node)); }
  void upsertPod(const BypassPod& pod) override { calls_.emplace_back(pod); }
  void reportError(const std::string& message) override { calls_.emplace_back(Error{message}); }
  // A decoder only upserts and reports: deletions and relists belong to the source's thread.
  void deleteService(const ServiceKey&) override { unexpected(); }
  void deleteEndpointSlice(const std::string&, const std::string&) override { unexpected(); }
  void deleteNode(const std::string&) override { unexpected(); }
  void deletePod(const std::string&) override { unexpected(); }
  void synced() override { unexpected(); }
  void resync() override { unexpected(); }
  void resync(ObjectKind) override { unexpected(); }
  void synced(ObjectKind) override { unexpected(); }

  // Makes the calls on `sink`, in the order they were made here, and forgets them.
  void replay(SourceSink& sink);

private:
  struct Error {
    std::string message;
  };
  [[noreturn]] static void unexpected();

  std::vector<std::variant<Service, EndpointSlice, Node, BypassPod, Error>> calls_;
};

// Calls decode(i, sink) for every i in [0, count), on up to `threads` threads, each taking a
// contiguous run of indexes whose weights add up to about the same; then replays every
// call into `sink` in index order. decode must only upsert and report errors.
void decodeInParallel(size_t count, const std::function<size_t(size_t)>& weight,
                      const std::function<void(size_t, SourceSink&)>& decode, SourceSink& sink,
                      unsigned threads);

}  // namespace bpfproxy::controller
