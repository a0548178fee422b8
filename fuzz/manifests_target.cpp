// Manifest files end to end: parse, decode, store, model, reconcile (in memory).
#include <spdlog/spdlog.h>

#include "controller/state/cluster_store.h"
#include "controller/source/manifests_source.h"
#include "controller/model/model.h"
#include "controller/sync/reconciler.h"
#include "fuzz/scratch_file.h"
#include "fuzz/targets.h"
#include "tests/support/memory_datapath.h"

namespace bpfproxy::fuzz {

int manifests(const uint8_t* data, size_t size) {
  static ScratchDir scratch;
  spdlog::set_level(spdlog::level::off);
  if (size == 0) return 0;
  const char* names[] = {"input.yaml", "input.json", "input.yml"};
  scratch.write(names[data[0] % 3], data + 1, size - 1);

  controller::ClusterStore store("node-a");
  controller::ManifestsSource(scratch.path()).loadOnce(store);
  store.takeErrors();

  controller::ModelConfig config;
  config.serviceCidrs = {*Cidr::parse("10.96.0.0/16"), *Cidr::parse("fd00:10:96::/112")};
  config.nodeName = "node-a";
  config.nodeZone = store.nodeZone();
  testing::MemoryDatapath datapath;
  controller::Reconciler reconciler(datapath, 256, 1024);
  for (const auto& key : store.serviceKeys()) {
    auto service = store.service(key);
    if (!service) continue;
    auto slices = store.slicesFor(key);
    std::vector<const controller::EndpointSlice*> pointers;
    for (const auto& slice : slices) pointers.push_back(&slice);
    auto built = controller::buildServiceFrontends(*service, pointers, config);
    reconciler.apply(key, built.frontends);
  }
  reconciler.removeAllExcept({});
  return 0;
}

}  // namespace bpfproxy::fuzz
