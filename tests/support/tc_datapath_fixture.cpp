#include "tests/support/tc_datapath_fixture.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <net/if.h>

namespace bpfproxy::testing {

std::string TcDatapathFixture::open(const loader::MapSizes& sizes, uint32_t maxServicePorts, uint32_t maxBackends) {
  eth0 = static_cast<int>(if_nametoindex("eth0"));
  br0 = static_cast<int>(if_nametoindex("br0"));
  tc = std::make_unique<loader::TcDatapath>(pins.path(), sizes);
  if (auto opened = maps.open(pins.path()); !opened) return opened.error().message;
  if (auto opened = tcMaps.open(pins.path()); !opened) return opened.error().message;
  writer = std::make_unique<maps::BpfDatapathWriter>(maps);
  reconciler = std::make_unique<controller::Reconciler>(*writer, maxServicePorts, maxBackends);
  state = std::make_unique<controller::TcMapState>(tcMaps);
  return "";
}

bool TcDatapathFixture::run(loader::TcProgram program, const std::vector<uint8_t>& frame, TcRun& out,
                            int ifindex) const {
  return runFd(tc->programFd(program), frame, out, ifindex);
}

bool TcDatapathFixture::runFd(int programFd, const std::vector<uint8_t>& frame, TcRun& out, int ifindex) const {
  out.frame.resize(frame.size() + 256);  // room for encapsulation or an ICMP error
  __sk_buff context{};
  context.ifindex = ifindex ? ifindex : eth0;
  LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = frame.data(), .data_out = out.frame.data(),
              .data_size_in = static_cast<__u32>(frame.size()),
              .data_size_out = static_cast<__u32>(out.frame.size()), .ctx_in = &context,
              .ctx_size_in = sizeof(context), .repeat = 1);
  if (bpf_prog_test_run_opts(programFd, &options) != 0) return false;
  out.verdict = static_cast<int>(options.retval);
  out.ns = options.duration;
  out.frame.resize(options.data_size_out);
  return true;
}

}  // namespace bpfproxy::testing
