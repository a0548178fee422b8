#pragma once
// The TC programs loaded on fresh pins, with the production writer, reconciler and node
// state over their maps: what the TC tests and bpx_prog_bench program and test-run. Run it
// inside the namespace of tc_test_namespace.h (eth0 and br0 are looked up there).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "controller/node/tc_state.h"
#include "controller/sync/reconciler.h"
#include "loader/tc_loader.h"
#include "maps/bpf_datapath_writer.h"
#include "maps/datapath_maps.h"
#include "maps/tc_maps.h"
#include "tests/support/test_bpffs.h"

namespace bpfproxy::testing {

struct TcRun {
  int verdict = 0;            // the program's return value (TC_ACT_*)
  uint32_t ns = 0;            // the kernel's time for the run
  std::vector<uint8_t> frame;  // the frame as the program left it
};

struct TcDatapathFixture {
  TestBpffsDir pins;
  std::unique_ptr<loader::TcDatapath> tc;
  maps::DatapathMaps maps;
  maps::TcMaps tcMaps;
  std::unique_ptr<maps::BpfDatapathWriter> writer;
  std::unique_ptr<controller::Reconciler> reconciler;
  std::unique_ptr<controller::TcMapState> state;
  int eth0 = 0;
  int br0 = 0;

  // Loads the programs with `sizes` and opens their maps; "" or what failed.
  std::string open(const loader::MapSizes& sizes, uint32_t maxServicePorts, uint32_t maxBackends);
  // One BPF_PROG_TEST_RUN of `program` on `frame` arriving on `ifindex` (0: eth0); false
  // (errno set) when the kernel refused the run.
  bool run(loader::TcProgram program, const std::vector<uint8_t>& frame, TcRun& out, int ifindex = 0) const;
  // The same with a program given by its fd (another build's, for bpx_prog_bench).
  bool runFd(int programFd, const std::vector<uint8_t>& frame, TcRun& out, int ifindex = 0) const;
};

}  // namespace bpfproxy::testing
