#pragma once
// A test case that cannot run here says so at run time, inside the case: it is counted as
// skipped, and the test binary exits with kSkipReturnCode (ctest's SKIP_RETURN_CODE) when
// nothing failed. Deciding this at static initialisation would run privileged probes at test
// discovery and hide the case from the list.
#include <string>

namespace bpfproxy::testing {

inline constexpr int kSkipReturnCode = 77;

// Records that the running case was skipped and why (printed once per case).
void markSkipped(const std::string& why);
int skippedCases();

}  // namespace bpfproxy::testing

// In a TEST_CASE: when WHY (a std::string) is not empty, the case is skipped and returns.
#define BPX_SKIP_IF_NOT_EMPTY(why)                    \
  do {                                                \
    if (const std::string bpxWhy = (why); !bpxWhy.empty()) { \
      ::bpfproxy::testing::markSkipped(bpxWhy);       \
      return;                                         \
    }                                                 \
  } while (0)
