// The first sync's batched writes (BpfDatapathWriter::beginBatch/endBatch) against real maps:
// the same maps as one write at a time, deletes kept in order, and a batch that does not fit
// leaves no service entry pointing at missing slots.
#include <bpf/libbpf.h>
#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <string>

#include "controller/sync/reconciler.h"
#include "maps/bpf_datapath_writer.h"
#include "maps/datapath_maps.h"
#include "maps/map_names.h"
#include "maps/snapshot_reader.h"
#include "sock_lb_harness.skel.h"
#include "tests/bpf/sock_harness_datapath.h"
#include "tests/support/frontend_specs.h"
#include "tests/support/require_ok.h"
#include "tests/support/skip.h"
#include "tests/support/test_bpffs.h"

using namespace bpfproxy;

namespace {

// The same slot capacity for the batched and the one-at-a-time datapath.
struct Maps : testing::SockHarnessDatapath {
  explicit Maps(uint32_t slotCapacity = 4096) : SockHarnessDatapath(slotCapacity) {}
};

controller::ServiceKey serviceKey(int i) { return {"bench", "svc-" + std::to_string(i)}; }

// Service i: 10.32.<i>.1:80 with `count` endpoints 10.64.<i>.<1..count> (shared = the same
// endpoints for every Service).
std::vector<controller::FrontendSpec> frontends(int i, int count, bool shared = false) {
  std::vector<controller::BackendSpec> backends;
  for (int j = 1; j <= count; ++j) {
    std::string address = "10.64." + std::to_string(shared ? 0 : i) + "." + std::to_string(j);
    backends.push_back(testing::backendSpec(address.c_str(), 8080, BPX_PROTO_TCP));
  }
  std::string vip = "10.32." + std::to_string(i) + ".1";
  auto spec = testing::frontendSpec(vip.c_str(), 80, BPX_PROTO_TCP, BPX_SVC_F_CLUSTER_IP, backends);
  spec.namespace_ = "bench";
  spec.name = "svc-" + std::to_string(i);
  return {spec};
}

// The snapshot as comparable text: frontends with their backends' addresses, in key order.
std::string describe(const maps::DatapathSnapshot& snapshot) {
  std::string text;
  for (const auto& frontend : snapshot.frontends) {
    text += controller::describe(controller::toFrontendKey(frontend.key)) + " " +
            (frontend.meta ? frontend.meta->name : "?") + " ->";
    for (uint32_t id : frontend.backendIds) {
      auto it = snapshot.backends.find(id);
      text += " " + (it == snapshot.backends.end() ? std::string("missing")
                                                   : maps::addressOf(it->second.addr).toString());
    }
    text += "\n";
  }
  text += std::to_string(snapshot.backends.size()) + " backends, " +
          std::to_string(snapshot.staleSlots.size()) + " stale slots\n";
  return text;
}

}  // namespace

TEST_CASE("batched writer: a first sync held and written per map equals one write at a time") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Maps batched, single;
  batched.writer->beginBatch();
  for (int i = 1; i <= 50; ++i) {
    CHECK(batched.reconciler->apply(serviceKey(i), frontends(i, 10)).errors.empty());
    CHECK(single.reconciler->apply(serviceKey(i), frontends(i, 10)).errors.empty());
  }
  // Held, not written: the maps are still empty.
  CHECK(maps::readSnapshot(batched.maps).frontends.empty());
  auto written = batched.writer->endBatch();
  REQUIRE_MESSAGE(written.ok(), written.error().message);
  CHECK(batched.writer->batchedElements() == 50 * (1 + 10 + 10 + 1));  // meta, backends, slots, service
  CHECK(batched.writer->batchCalls() == 4);
  auto snapshot = maps::readSnapshot(batched.maps);
  CHECK(snapshot.frontends.size() == 50);
  CHECK(describe(snapshot) == describe(maps::readSnapshot(single.maps)));
  // After the batch, writes go straight to the maps again.
  CHECK(batched.reconciler->apply(serviceKey(51), frontends(51, 2)).errors.empty());
  CHECK(maps::readSnapshot(batched.maps).frontends.size() == 51);
}

TEST_CASE("batched writer: a delete writes what is held first, so the reconciler's order holds") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Maps batched, single;
  for (auto* m : {&batched, &single}) {
    if (m == &batched) m->writer->beginBatch();
    // Service 1 comes and goes, then service 2 reuses its svc_id and backend ids: a delete
    // applied after the held puts would remove service 2's fresh entries.
    CHECK(m->reconciler->apply(serviceKey(1), frontends(1, 3)).errors.empty());
    CHECK(m->reconciler->apply(serviceKey(1), {}).frontendsRemoved == 1);
    CHECK(m->reconciler->apply(serviceKey(2), frontends(2, 3)).errors.empty());
    CHECK(m->reconciler->apply(serviceKey(3), frontends(3, 4)).errors.empty());
    if (m == &batched) REQUIRE(m->writer->endBatch().ok());
  }
  auto snapshot = maps::readSnapshot(batched.maps);
  CHECK(snapshot.frontends.size() == 2);
  CHECK(describe(snapshot) == describe(maps::readSnapshot(single.maps)));
}

TEST_CASE("batched writer: a batch that does not fit names the map and writes no service entry past it") {
  BPX_SKIP_IF_NOT_EMPTY(testing::bpfUnavailable());
  Maps batched(/*slotCapacity=*/32);
  batched.writer->beginBatch();
  // Four Services sharing ten endpoints: 10 backends fit, 40 slots do not fit in 32.
  for (int i = 1; i <= 4; ++i)
    CHECK(batched.reconciler->apply(serviceKey(i), frontends(i, 10, true)).errors.empty());
  auto written = batched.writer->endBatch();
  REQUIRE_FALSE(written.ok());
  CHECK(written.error().message.find(maps::kSlotMap) != std::string::npos);
  auto snapshot = maps::readSnapshot(batched.maps);
  CHECK(snapshot.frontends.empty());   // no service entry, so no frontend with missing slots
  CHECK(snapshot.backends.size() == 10);  // written before the slots failed: debris

  // What the agent does next: adopt what the maps hold (the debris goes) and write again one
  // element at a time, where each Service gets its own error.
  batched.reconciler->forgetAll();
  batched.reconciler->adopt(maps::readSnapshot(batched.maps));
  CHECK(maps::readSnapshot(batched.maps).backends.empty());
  size_t programmed = 0, failed = 0;
  for (int i = 1; i <= 4; ++i)
    (batched.reconciler->apply(serviceKey(i), frontends(i, 10, true)).errors.empty() ? programmed : failed)++;
  CHECK(programmed == 3);
  CHECK(failed == 1);
  CHECK(maps::readSnapshot(batched.maps).frontends.size() == 3);
}
