// libFuzzer's entry point for one target, chosen at compile time (BPX_FUZZ_TARGET).
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return bpfproxy::fuzz::BPX_FUZZ_TARGET(data, size);
}
