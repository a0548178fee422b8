#include "controller/source/deferred_sink.h"

#include <stdexcept>
#include <thread>

namespace bpfproxy::controller {

void DeferredSink::unexpected() {
  throw std::logic_error("DeferredSink: only upserts and errors can be deferred");
}

void DeferredSink::replay(SourceSink& sink) {
  for (auto& call : calls_) {
    if (auto* service = std::get_if<Service>(&call)) sink.upsertService(std::move(*service));
    else if (auto* slice = std::get_if<EndpointSlice>(&call)) sink.upsertEndpointSlice(std::move(*slice));
    else if (auto* node = std::get_if<Node>(&call)) sink.upsertNode(std::move(*node));
    else if (auto* pod = std::get_if<BypassPod>(&call)) sink.upsertPod(*pod);
    else sink.reportError(std::get<Error>(call).message);
  }
  calls_ = {};
}

void decodeInParallel(size_t count, const std::function<size_t(size_t)>& weight,
                      const std::function<void(size_t, SourceSink&)>& decode, SourceSink& sink,
                      unsigned threads) {
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += weight(i);
  // Contiguous runs of about total/threads each, so the replay keeps the order.
  std::vector<size_t> starts{0};
  size_t run = 0;
  for (size_t i = 0; i < count && starts.size() < threads; ++i) {
    run += weight(i);
    if (run * threads >= total * starts.size() && i + 1 < count) starts.push_back(i + 1);
  }
  starts.push_back(count);
  const size_t runs = starts.size() - 1;
  std::vector<DeferredSink> deferred(runs);
  auto decodeRun = [&](size_t r) {
    for (size_t i = starts[r]; i < starts[r + 1]; ++i) decode(i, deferred[r]);
  };
  std::vector<std::thread> helpers;
  for (size_t r = 1; r < runs; ++r) helpers.emplace_back(decodeRun, r);
  decodeRun(0);
  for (auto& helper : helpers) helper.join();
  for (auto& run : deferred) run.replay(sink);
}

}  // namespace bpfproxy::controller
