// A kubeconfig file, loaded as `--kubeconfig FILE` loads it (paths it names may not exist:
// the error says so).
#include "controller/source/kube/kubeconfig.h"
#include "fuzz/scratch_file.h"
#include "fuzz/targets.h"

namespace bpfproxy::fuzz {

int kubeconfig(const uint8_t* data, size_t size) {
  static ScratchDir scratch;
  auto file = scratch.write("kubeconfig", data, size);
  try {
    (void)controller::kube::loadKubeconfig(file);
  } catch (const std::exception&) {
    // Every refusal is an exception naming the field; only a crash is a finding.
  }
  return 0;
}

}  // namespace bpfproxy::fuzz
