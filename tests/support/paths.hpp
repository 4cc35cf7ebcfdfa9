#pragma once
// Paths the tests need: the source tree, the built CLI, the shared reference data, temp dirs.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace netsentry::test {

inline std::filesystem::path source_dir() { return NETSENTRY_SOURCE_DIR; }
inline std::filesystem::path cli_binary() { return NETSENTRY_BINARY; }
// ../shared/data, or the folder NETSENTRY_SHARED_DATA names.
std::filesystem::path shared_data();
inline std::filesystem::path phishing_csv() { return shared_data() / "phishing" / "phisingData.csv"; }
// The NSL-KDD training subset (no header row; ../shared/data/nsl-kdd/README.md).
inline std::filesystem::path nsl_kdd_csv() { return shared_data() / "nsl-kdd" / "KDDTrain+_20Percent.txt"; }

// Whether what a test needs (the shared data, a test tool) must be there: NETSENTRY_REQUIRE_DATA=1
// (or 0) says so; unset, it is required under CI=true. Then a missing file fails the test instead
// of skipping it, so a run without the data can never pass as green.
bool required_inputs();

// Skips the test when `present` is false, or fails it when inputs are required (required_inputs).
#define NETSENTRY_NEEDS(present, what)                                              \
  do {                                                                              \
    if (!(present)) {                                                               \
      if (::netsentry::test::required_inputs())                                     \
        GTEST_FAIL() << what << " (required: CI=true or NETSENTRY_REQUIRE_DATA=1)"; \
      GTEST_SKIP() << what;                                                         \
    }                                                                               \
  } while (false)
// The shared UCI phishing file (../shared/data/phishing/phisingData.csv).
#define NETSENTRY_NEEDS_UCI()                                                 \
  NETSENTRY_NEEDS(std::filesystem::exists(::netsentry::test::phishing_csv()), \
                  "shared data absent: " << ::netsentry::test::phishing_csv().string())

// The shared NSL-KDD file (../shared/data/nsl-kdd/KDDTrain+_20Percent.txt).
#define NETSENTRY_NEEDS_NSL_KDD()                                            \
  NETSENTRY_NEEDS(std::filesystem::exists(::netsentry::test::nsl_kdd_csv()), \
                  "shared data absent: " << ::netsentry::test::nsl_kdd_csv().string())

// A fresh empty directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs a shell command line, capturing stdout and stderr.
CommandResult run_command(const std::string& command_line);
// Runs the netsentry CLI with the given arguments (already shell-quoted) from the source dir.
CommandResult run_cli(const std::string& args);
std::string shell_quote(const std::string& s);

}  // namespace netsentry::test
