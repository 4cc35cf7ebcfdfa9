#pragma once
// Paths the tests need: the source tree, the built CLI, the shared reference data, temp dirs.
#include <filesystem>
#include <string>

namespace netsentry::test {

inline std::filesystem::path source_dir() { return NETSENTRY_SOURCE_DIR; }
inline std::filesystem::path cli_binary() { return NETSENTRY_BINARY; }
inline std::filesystem::path shared_data() { return NETSENTRY_SHARED_DATA; }
inline std::filesystem::path phishing_csv() { return shared_data() / "phishing" / "phisingData.csv"; }

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
