// A source started through RunningSource is stopped before its sink is destroyed, on a
// normal exit and when the agent loop throws.
#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "controller/source/source.h"

using namespace bpfproxy::controller;
using namespace std::chrono_literals;

namespace {

// A source whose thread keeps writing into the sink until stopped.
class BusySource : public Source {
public:
  explicit BusySource(std::atomic<bool>& running) : running_(running) {}
  void start(SourceSink& sink) override {
    running_ = true;
    thread_ = std::thread([this, &sink] {
      while (running_) {
        sink.synced();
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  void stop() override {
    running_ = false;
    if (thread_.joinable()) thread_.join();
    ++stops;
  }
  std::string describe() const override { return "busy"; }
  int stops = 0;

private:
  std::atomic<bool>& running_;
  std::thread thread_;
};

// Records whether its source was still running when it was destroyed.
class WatchfulSink : public SourceSink {
public:
  WatchfulSink(const std::atomic<bool>& sourceRunning, bool& destroyedUnderSource)
      : sourceRunning_(sourceRunning), destroyedUnderSource_(destroyedUnderSource) {}
  ~WatchfulSink() override { destroyedUnderSource_ = sourceRunning_.load(); }
  void upsertService(Service) override {}
  void deleteService(const ServiceKey&) override {}
  void upsertEndpointSlice(EndpointSlice) override {}
  void deleteEndpointSlice(const std::string&, const std::string&) override {}
  void upsertNode(Node) override {}
  void deleteNode(const std::string&) override {}
  void synced() override { ++calls; }
  void resync() override {}
  void resync(ObjectKind) override {}
  void synced(ObjectKind) override {}
  void reportError(const std::string&) override {}
  std::atomic<int> calls{0};

private:
  const std::atomic<bool>& sourceRunning_;
  bool& destroyedUnderSource_;
};

void waitForCalls(const WatchfulSink& sink) {
  for (int i = 0; i < 2000 && sink.calls == 0; ++i) std::this_thread::sleep_for(1ms);
  REQUIRE(sink.calls > 0);  // the source really was delivering when the scope ended
}

}  // namespace

TEST_CASE("an exception in the agent loop stops the source before its sink is destroyed") {
  std::atomic<bool> running{false};
  bool destroyedUnderSource = true;
  BusySource source(running);
  bool thrown = false;
  try {
    WatchfulSink sink(running, destroyedUnderSource);
    RunningSource guard(source, sink);
    waitForCalls(sink);
    throw std::runtime_error("a sync failed");
  } catch (const std::runtime_error&) {
    thrown = true;
  }
  CHECK(thrown);
  CHECK(source.stops == 1);
  CHECK_FALSE(destroyedUnderSource);
}

TEST_CASE("a normal exit stops the source once, before its sink is destroyed") {
  std::atomic<bool> running{false};
  bool destroyedUnderSource = true;
  BusySource source(running);
  {
    WatchfulSink sink(running, destroyedUnderSource);
    RunningSource guard(source, sink);
    waitForCalls(sink);
  }
  CHECK(source.stops == 1);
  CHECK_FALSE(destroyedUnderSource);
}
