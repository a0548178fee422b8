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

namespace {
// doctest releases its run state when run() returns: the count is kept from test_run_end.
unsigned casesRun = 0;

struct CasesRunListener : doctest::IReporter {
  explicit CasesRunListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override { casesRun = stats.numTestCasesPassingFilters; }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
}  // namespace

}  // namespace bpfproxy::testing

DOCTEST_REGISTER_LISTENER("cases_run", 1, bpfproxy::testing::CasesRunListener);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int rc = context.run();
  if (context.shouldExit() || rc != 0) return rc;
  // ctest runs one case by its name: a name that matches nothing (ctest splits names at ';')
  // would otherwise pass without running anything.
  if (bpfproxy::testing::casesRun == 0) {
    std::cerr << "no test case matches the filter: nothing ran" << std::endl;
    return 1;
  }
  return bpfproxy::testing::skippedCases() > 0 ? bpfproxy::testing::kSkipReturnCode : 0;
}
