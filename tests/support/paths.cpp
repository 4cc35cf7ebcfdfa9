#include "support/paths.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace netsentry::test {

TempDir::TempDir() {
  std::random_device rd;
  for (int i = 0; i < 100; ++i) {
    auto p = std::filesystem::temp_directory_path() /
             ("netsentry-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    if (std::filesystem::create_directory(p)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a temp dir");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path shared_data() {
  if (const char* v = std::getenv("NETSENTRY_SHARED_DATA"); v && *v) return v;
  return NETSENTRY_SHARED_DATA;
}

bool required_inputs() {
  if (const char* v = std::getenv("NETSENTRY_REQUIRE_DATA"); v && *v) return std::string(v) != "0";
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

CommandResult run_command(const std::string& command_line) {
  TempDir tmp;
  auto out = tmp / "out", err = tmp / "err";
  std::string cmd = command_line + " >" + shell_quote(out) + " 2>" + shell_quote(err) + " </dev/null";
  int status = std::system(cmd.c_str());
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return {code, slurp(out), slurp(err)};
}

CommandResult run_cli(const std::string& args) {
  return run_command("cd " + shell_quote(source_dir()) + " && " + shell_quote(cli_binary()) + " " + args);
}

}  // namespace netsentry::test
