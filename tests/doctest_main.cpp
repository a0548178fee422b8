// doctest's runner, with skips decided inside test cases (tests/support/skip.h): a run where
// nothing failed but something was skipped exits with kSkipReturnCode, so ctest shows SKIP.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <iostream>

#include "tests/support/skip.h"

namespace bpfproxy::testing {

namespace {
int skipped = 0;
}

void markSkipped(const std::string& why) {
  ++skipped;
  std::cout << "SKIP: " << doctest::detail::g_cs->currentTest->m_name << ": " << why << std::endl;
}

int skippedCases() { return skipped; }

}  // namespace bpfproxy::testing

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int rc = context.run();
  if (context.shouldExit() || rc != 0) return rc;
  // ctest runs one case by its name: a name that matches nothing (ctest splits names at ';')
  // would otherwise pass without running anything.
  if (doctest::detail::g_cs->numTestCasesPassingFilters == 0) {
    std::cerr << "no test case matches the filter: nothing ran" << std::endl;
    return 1;
  }
  return bpfproxy::testing::skippedCases() > 0 ? bpfproxy::testing::kSkipReturnCode : 0;
}
