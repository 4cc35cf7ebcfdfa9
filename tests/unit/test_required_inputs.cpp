// A test that needs the shared data fails, instead of skipping, when the data are required (CI=true,
// or NETSENTRY_REQUIRE_DATA=1), so that a run without ../shared/data can never pass as green; with
// NETSENTRY_REQUIRE_DATA=0 (a checkout without the data, e.g. the GitHub workflow) it skips.
#include <gtest/gtest.h>
#include <unistd.h>

#include "support/paths.hpp"

namespace netsentry::test {
namespace {

// This test binary running one test that reads the UCI file, with the data folder pointed elsewhere.
CommandResult run_uci_test_without_data(const std::string& env) {
  return run_command("env -u CI -u NETSENTRY_REQUIRE_DATA NETSENTRY_SHARED_DATA=/nonexistent/shared/data " +
                     env + " /proc/" + std::to_string(::getpid()) +
                     "/exe --gtest_filter=Split.DuplicateAwareKeepsCopiesOnOneSideOfTheUciSplit");
}

TEST(RequiredInputs, MissingSharedDataFailsUnderCiAndSkipsOnlyWhenAllowed) {
  const auto ci = run_uci_test_without_data("CI=true");
  EXPECT_NE(ci.exit_code, 0) << ci.out;
  EXPECT_NE(ci.out.find("shared data absent: /nonexistent/shared/data"), std::string::npos) << ci.out;
  EXPECT_NE(ci.out.find("[  FAILED  ]"), std::string::npos) << ci.out;

  const auto forced = run_uci_test_without_data("NETSENTRY_REQUIRE_DATA=1");
  EXPECT_NE(forced.exit_code, 0) << forced.out;

  const auto allowed = run_uci_test_without_data("CI=true NETSENTRY_REQUIRE_DATA=0");
  EXPECT_EQ(allowed.exit_code, 0) << allowed.out;
  EXPECT_NE(allowed.out.find("[  SKIPPED ]"), std::string::npos) << allowed.out;

  const auto local = run_uci_test_without_data("");
  EXPECT_EQ(local.exit_code, 0) << local.out;
  EXPECT_NE(local.out.find("[  SKIPPED ]"), std::string::npos) << local.out;
}

}  // namespace
}  // namespace netsentry::test
