// The S3 client against a real S3 implementation: npm's s3rver on loopback (credentials S3RVER /
// S3RVER). Installed by scripts/install-npm-tools.sh; skipped
// when node or s3rver is missing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/registry/s3.hpp"
#include "support/paths.hpp"

using namespace netsentry;
namespace t = netsentry::test;

namespace {

class S3rver {
 public:
  S3rver() {
    const auto js = t::source_dir() / "tests" / "node_modules" / "s3rver" / "bin" / "s3rver.js";
    if (!std::filesystem::exists(js) || t::run_command("command -v node").exit_code != 0) return;
    const auto log = tmp_ / "s3rver.log";
    const auto pidfile = tmp_ / "pid";
    std::filesystem::create_directories(tmp_ / "data");
    // --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES.
    std::string cmd = "node --openssl-legacy-provider " + t::shell_quote(js) + " -d " +
                      t::shell_quote(tmp_ / "data") + " -a 127.0.0.1 -p 0 >" + t::shell_quote(log) +
                      " 2>&1 </dev/null & echo $! >" + t::shell_quote(pidfile);
    if (std::system(cmd.c_str()) != 0) return;
    std::ifstream(pidfile) >> pid_;
    const std::regex re(R"(listening on 127\.0\.0\.1:([0-9]+))");
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::ifstream in(log);
      std::stringstream ss;
      ss << in.rdbuf();
      std::smatch m;
      std::string text = ss.str();
      if (std::regex_search(text, m, re)) port_ = std::stoi(m[1].str());
    }
  }
  ~S3rver() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
  }
  bool running() const { return port_ != 0; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  t::TempDir tmp_;
  pid_t pid_ = 0;
  int port_ = 0;
};

s3::Credentials s3rver_credentials() {
  s3::Credentials c;
  c.access_key = "S3RVER";
  c.secret_key = "S3RVER";
  c.region = "us-east-1";
  return c;
}

}  // namespace

TEST(S3Client, PutGetListDeleteAgainstS3rver) {
  S3rver server;
  NETSENTRY_NEEDS(server.running(), "s3rver not installed (scripts/install-npm-tools.sh)");
  s3::Client c(server.endpoint(), s3rver_credentials());
  c.create_bucket("models");

  std::string binary;
  for (int i = 0; i < 70000; ++i) binary += static_cast<char>((i * 7919) & 0xff);
  c.put_object("models", "p/v1/bundle/model/model.json", binary);
  c.put_object("models", "p/v1/odd name+&=$.txt", "odd");
  c.put_object("models", "p/v1/empty", "");
  c.put_object("models", "other/x", "x");

  EXPECT_EQ(sha256_hex(c.get_object("models", "p/v1/bundle/model/model.json")), sha256_hex(binary));
  EXPECT_EQ(c.get_object("models", "p/v1/odd name+&=$.txt"), "odd");
  EXPECT_EQ(c.get_object("models", "p/v1/empty"), "");
  EXPECT_FALSE(c.get_object_if_exists("models", "p/v1/missing").has_value());
  try {
    c.get_object("models", "p/v1/missing");
    FAIL() << "expected a 404";
  } catch (const s3::Error& e) {
    EXPECT_EQ(e.status, 404);
    EXPECT_EQ(e.code, "NoSuchKey");
  }

  auto objs = c.list_objects("models", "p/", 2);  // 2 per page: exercises continuation tokens
  ASSERT_EQ(objs.size(), 3u);
  std::vector<std::string> keys;
  for (auto& o : objs) keys.push_back(o.key);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys[0], "p/v1/bundle/model/model.json");
  EXPECT_EQ(keys[1], "p/v1/empty");
  EXPECT_EQ(keys[2], "p/v1/odd name+&=$.txt");
  for (auto& o : objs) {
    if (o.key == "p/v1/bundle/model/model.json") {
      EXPECT_EQ(o.size, binary.size());
    }
  }

  c.delete_object("models", "p/v1/empty");
  EXPECT_EQ(c.list_objects("models", "p/").size(), 2u);
}

// s3rver checks the access key id but does not recompute V4 signatures ("unimplemented" in its
// authentication middleware); the signature itself is checked against AWS's published examples in
// unit/test_s3_sigv4.cpp.
TEST(S3Client, UnknownAccessKeyIsRefused) {
  S3rver server;
  NETSENTRY_NEEDS(server.running(), "s3rver not installed (scripts/install-npm-tools.sh)");
  s3::Client good(server.endpoint(), s3rver_credentials());
  good.create_bucket("bucket");
  auto creds = s3rver_credentials();
  creds.access_key = "NOBODY";
  s3::Client bad(server.endpoint(), creds);
  try {
    bad.put_object("bucket", "k", "v");
    FAIL() << "an unknown access key must be refused";
  } catch (const s3::Error& e) {
    EXPECT_EQ(e.status, 403);
    EXPECT_EQ(e.code, "InvalidAccessKeyId");
  }
}

// No answer after the retries: UnreachableError (exit 5) naming the endpoint.
TEST(S3Client, UnreachableEndpointFailsAsUnreachable) {
  s3::Client c("http://127.0.0.1:1", s3rver_credentials());
  try {
    c.get_object("b", "k");
    FAIL();
  } catch (const UnreachableError& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("4 attempts"), std::string::npos) << e.what();
  }
}
