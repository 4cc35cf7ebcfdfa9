#pragma once
// Helpers of the serve tests: trained bundles (cached on disk across test processes), a server
// running in-process on a free loopback port, and bundle replacement as a publisher does it.
#include <httplib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "netsentry/serve/options.hpp"
#include "netsentry/serve/server.hpp"

namespace netsentry::test {

// Two bundles trained by `netsentry train` on different sample data, so their versions differ.
// Trained once and cached under the temp dir, keyed by the CLI binary's mtime.
const std::filesystem::path& serve_bundle(char which);  // 'a' or 'b'
// The sample CSV bundle 'a' was trained on (feature columns and the target).
const std::filesystem::path& serve_sample_csv();
// The first n data rows of the sample CSV (with its header), optionally without the target column.
std::string sample_csv_rows(std::size_t n, bool with_target = true);

// Recursive copy of a bundle directory.
void copy_bundle(const std::filesystem::path& from, const std::filesystem::path& to);
// Replaces `dest` by a copy of `from` the way a publisher does: write beside, then renames.
void replace_bundle(const std::filesystem::path& from, const std::filesystem::path& dest);

// A TCP connection to 127.0.0.1:port (raw-socket tests), or -1 when it cannot be made.
int connect_loopback(int port);

// Options for a test server: loopback, any free port, small limits, token "test-token".
serve::ServeOptions test_serve_options(const std::filesystem::path& model_dir);

class ServeHarness {
 public:
  explicit ServeHarness(serve::ServeOptions opt);
  ~ServeHarness();
  ServeHarness(const ServeHarness&) = delete;
  ServeHarness& operator=(const ServeHarness&) = delete;

  serve::Server& server() { return *server_; }
  int port() const { return port_; }
  std::unique_ptr<httplib::Client> client() const;

 private:
  std::unique_ptr<serve::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace netsentry::test
