#pragma once
// What the running kernel offers bpfproxy, probed once at start so a missing piece is
// named instead of surfacing as a bare errno from the verifier.
#include <string>
#include <vector>

namespace bpfproxy::loader {

struct KernelFeature {
  std::string name;
  bool present = false;
  bool required = false;
  std::string detail;  // what it is needed for, or how to get it
};

struct KernelFeatures {
  std::vector<KernelFeature> features;
  bool has(const std::string& name) const;
  // The required features that are missing, one line each; empty when all is well.
  std::vector<std::string> missingRequired() const;
};

KernelFeatures probeKernelFeatures();

}  // namespace bpfproxy::loader
