#pragma once
// The fuzz targets: each takes libFuzzer's input and returns 0. Built into a library that the
// libFuzzer executables (fuzz_<name>, with -DBPFPROXY_FUZZ=ON and clang) and the unit tests
// (which replay fuzz/corpus and fuzz/regressions) share.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bpfproxy::fuzz {

using Target = int (*)(const uint8_t* data, size_t size);

// Manifest files: YAML, JSON and JSON `kind: List`, through ManifestsSource into the store,
// the model and a reconciler on an in-memory datapath. The first byte picks the extension.
int manifests(const uint8_t* data, size_t size);
// One Kubernetes object as JSON, decoded as each kind the agent reads.
int kubeObjects(const uint8_t* data, size_t size);
// A watch response body cut into chunks wherever the input says, read event by event.
int watchStream(const uint8_t* data, size_t size);
// A kubeconfig file.
int kubeconfig(const uint8_t* data, size_t size);
// The agent's --config file, applied to the agent's flags.
int configFile(const uint8_t* data, size_t size);
// A command line (arguments separated by NUL or newline), parsed by every subcommand.
int commandLine(const uint8_t* data, size_t size);

struct NamedTarget {
  const char* name;  // fuzz/corpus/<name>, fuzz/regressions/<name>
  Target target;
};
const std::vector<NamedTarget>& targets();

}  // namespace bpfproxy::fuzz
