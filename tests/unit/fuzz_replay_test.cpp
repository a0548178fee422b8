// Every seed and every input a fuzzer once crashed on (fuzz/corpus/<target>/,
// fuzz/regressions/<target>/) goes through its target again in the normal suite, so a fixed
// crash stays fixed without a fuzzing build.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "fuzz/targets.h"

namespace fs = std::filesystem;

namespace {

size_t replay(const bpfproxy::fuzz::NamedTarget& target, const std::string& kind) {
  fs::path dir = fs::path(BPFPROXY_SOURCE_DIR) / "fuzz" / kind / target.name;
  size_t count = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CAPTURE(entry.path().string());
    CHECK(target.target(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()) == 0);
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("fuzz: every seed and every kept crash input goes through its target") {
  for (const auto& target : bpfproxy::fuzz::targets()) {
    CAPTURE(target.name);
    CHECK(replay(target, "corpus") > 0);  // each target has real objects to start from
    replay(target, "regressions");
  }
}
