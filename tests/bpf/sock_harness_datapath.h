#pragma once
// The socket-hook logic (sock_lb_harness.bpf.c) loaded on a test's own pins, its maps opened
// and written by the production writer and reconciler: what the socket-path BPF tests share.
#include <bpf/libbpf.h>
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "controller/sync/reconciler.h"
#include "maps/bpf_datapath_writer.h"
#include "maps/datapath_maps.h"
#include "maps/map_names.h"
#include "sock_lb_harness.skel.h"
#include "tests/support/require_ok.h"
#include "tests/support/test_bpffs.h"

namespace bpfproxy::testing {

struct SockHarnessDatapath {
  TestBpffsDir pins;
  sock_lb_harness* skeleton = nullptr;
  maps::DatapathMaps maps;
  std::unique_ptr<maps::BpfDatapathWriter> writer;
  std::unique_ptr<controller::Reconciler> reconciler;

  // `slotCapacity`: entries of the slot map (0: the object's own size).
  explicit SockHarnessDatapath(uint32_t slotCapacity = 0) {
    std::string pinRoot = maps::mapsDir(pins.path());
    LIBBPF_OPTS(bpf_object_open_opts, options, .pin_root_path = pinRoot.c_str());
    skeleton = sock_lb_harness::open(&options);
    REQUIRE(skeleton);
    // Small maps: LRU maps preallocate.
    bpf_map__set_max_entries(skeleton->maps.BPX_MAP_CLIENT_AFFINITY, 1024);
    if (slotCapacity) bpf_map__set_max_entries(skeleton->maps.BPX_MAP_SLOT, slotCapacity);
    REQUIRE(sock_lb_harness::load(skeleton) == 0);
    REQUIRE_OK(maps.open(pins.path()));
    writer = std::make_unique<maps::BpfDatapathWriter>(maps);
    reconciler = std::make_unique<controller::Reconciler>(*writer, 1024, 4096);
  }
  ~SockHarnessDatapath() { sock_lb_harness::destroy(skeleton); }
  SockHarnessDatapath(const SockHarnessDatapath&) = delete;
  SockHarnessDatapath& operator=(const SockHarnessDatapath&) = delete;
};

}  // namespace bpfproxy::testing
