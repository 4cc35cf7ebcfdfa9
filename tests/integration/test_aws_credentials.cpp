// The S3 credential chain (registry/aws_credentials.hpp): the environment, the shared files, the ECS
// container endpoint and EC2 instance metadata (IMDSv2), each against a loopback stand-in, their
// precedence, their errors, and the S3 client refreshing credentials that expire.
// Every test starts from an environment the fixture sets (nothing of the machine's: HOME and both
// files point into a temp folder) with AWS_EC2_METADATA_DISABLED=true, or with
// AWS_EC2_METADATA_SERVICE_ENDPOINT on a loopback stand-in: nothing reaches 169.254.169.254 or
// 169.254.170.2. Every secret, session token and authorization token below holds "sEcReT" or "tOkEn",
// and no message or log line may show one.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "netsentry/core/error.hpp"
#include "netsentry/registry/aws_credentials.hpp"
#include "netsentry/registry/s3.hpp"
#include "support/loopback_http_server.hpp"
#include "support/paths.hpp"
#include "support/scoped_env.hpp"

using namespace netsentry;
using Clock = std::chrono::system_clock;
namespace t = netsentry::test;

namespace {

// Every variable the chain reads.
const char* const kChainVariables[] = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
};

bool shows_a_secret(const std::string& text) {
  return text.find("sEcReT") != std::string::npos || text.find("tOkEn") != std::string::npos;
}

#define EXPECT_NO_SECRET(text) EXPECT_FALSE(shows_a_secret(text)) << (text)

std::string iso(Clock::time_point tp) {
  auto tt = Clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Clock::time_point whole_seconds(Clock::time_point tp) { return Clock::from_time_t(Clock::to_time_t(tp)); }

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

std::string credentials_json(const std::string& id, const std::string& secret, const std::string& token,
                             Clock::time_point expires) {
  return nlohmann::json{
      {"AccessKeyId", id}, {"SecretAccessKey", secret}, {"Token", token}, {"Expiration", iso(expires)}}
      .dump();
}

// The ECS container endpoint: GET /creds with the expected Authorization header, else 401.
class EcsStandIn {
 public:
  explicit EcsStandIn(std::string authorization) : authorization_(std::move(authorization)) {}
  ~EcsStandIn() { server_.reset(); }

  // What the answers hold: every one `body`, or the first `first` and the others `then`.
  void answer(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    first_ = then_ = std::move(body);
  }
  void answer_first(std::string first, std::string then) {
    std::lock_guard<std::mutex> lock(mu_);
    first_ = std::move(first);
    then_ = std::move(then);
  }
  int requests() const { return requests_; }
  std::string url() const { return server_->url() + "/creds"; }

 private:
  std::string authorization_;
  std::mutex mu_;
  std::string first_, then_;
  std::atomic<int> requests_{0};
  std::unique_ptr<t::LoopbackHttpServer> server_ =
      std::make_unique<t::LoopbackHttpServer>([this](httplib::Server& s) {
        s.Get("/creds", [this](const httplib::Request& req, httplib::Response& res) {
          const int n = ++requests_;
          if (req.get_header_value("Authorization") != authorization_) {
            res.status = 401;
            res.set_content(R"({"code":"Unauthorized","message":"bad token"})", "application/json");
            return;
          }
          std::lock_guard<std::mutex> lock(mu_);
          res.set_content(n == 1 ? first_ : then_, "application/json");
        });
      });
};

// EC2 instance metadata, IMDSv2: PUT /latest/api/token (with the TTL header), then GETs that must
// carry the token.
class ImdsStandIn {
 public:
  ImdsStandIn() = default;
  ~ImdsStandIn() { server_.reset(); }

  void set_credentials(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    credentials_ = std::move(body);
  }
  std::atomic<int> token_status{200}, role_status{200}, credentials_status{200};

  std::string endpoint() const { return server_->url(); }
  int requests() const { return requests_; }
  int token_requests() const { return token_requests_; }
  int region_requests() const { return region_requests_; }
  int refused() const { return refused_; }

 private:
  static constexpr const char* kToken = "imds-api-tOkEn-AQAEAMQ";
  bool authorized(const httplib::Request& req, httplib::Response& res) {
    ++requests_;
    if (req.get_header_value("X-aws-ec2-metadata-token") == kToken) return true;
    ++refused_;
    res.status = 401;
    return false;
  }
  std::mutex mu_;
  std::string credentials_ = credentials_json("ASIAIMDSROLE00000001", "imds-sEcReT", "imds-session-tOkEn",
                                              Clock::now() + std::chrono::hours(6));
  std::atomic<int> requests_{0}, token_requests_{0}, region_requests_{0}, refused_{0};
  std::unique_ptr<t::LoopbackHttpServer> server_ =
      std::make_unique<t::LoopbackHttpServer>([this](httplib::Server& s) {
        s.Put("/latest/api/token", [this](const httplib::Request& req, httplib::Response& res) {
          ++requests_;
          ++token_requests_;
          if (req.get_header_value("X-aws-ec2-metadata-token-ttl-seconds") != "21600") {
            ++refused_;
            res.status = 400;
            return;
          }
          res.status = token_status;
          if (res.status == 200) res.set_content(kToken, "text/plain");
        });
        s.Get("/latest/meta-data/iam/security-credentials/",
              [this](const httplib::Request& req, httplib::Response& res) {
                if (!authorized(req, res)) return;
                res.status = role_status;
                if (res.status == 200) res.set_content("netsentry-task-role\n", "text/plain");
              });
        s.Get("/latest/meta-data/iam/security-credentials/netsentry-task-role",
              [this](const httplib::Request& req, httplib::Response& res) {
                if (!authorized(req, res)) return;
                res.status = credentials_status;
                std::lock_guard<std::mutex> lock(mu_);
                if (res.status == 200) res.set_content(credentials_, "application/json");
              });
        s.Get("/latest/meta-data/placement/region",
              [this](const httplib::Request& req, httplib::Response& res) {
                if (!authorized(req, res)) return;
                ++region_requests_;
                res.set_content("eu-central-1", "text/plain");
              });
      });
};

// The default logger's lines while it lives.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto logger =
        std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_));
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

class AwsCredentials : public ::testing::Test {
 protected:
  AwsCredentials() {
    for (const char* name : kChainVariables) set(name, nullptr);
    set("HOME", home_.path().string());
    set("AWS_SHARED_CREDENTIALS_FILE", credentials_file().string());
    set("AWS_CONFIG_FILE", config_file().string());
    set("AWS_EC2_METADATA_DISABLED", "true");
  }
  ~AwsCredentials() override {
    while (!env_.empty()) env_.pop_back();  // the latest first: a variable set twice gets its value back
  }

  void set(const char* name, const char* value) {
    env_.push_back(std::make_unique<t::ScopedEnv>(name, value));
  }
  void set(const char* name, const std::string& value) { set(name, value.c_str()); }

  std::filesystem::path credentials_file() const { return home_ / "credentials"; }
  std::filesystem::path config_file() const { return home_ / "config"; }

  void use_imds(const ImdsStandIn& imds) {
    set("AWS_EC2_METADATA_DISABLED", nullptr);
    set("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint());
  }

  // The message of the exception `f` throws, checked to be of type E and to show no secret.
  template <typename E>
  std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const E& e) {
      const std::string what = e.what();
      EXPECT_NO_SECRET(what);
      return what;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unexpected exception type: " << e.what();
      return e.what();
    }
    ADD_FAILURE() << "expected an exception";
    return "(no error)";
  }

  t::TempDir home_;
  std::vector<std::unique_ptr<t::ScopedEnv>> env_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------------
TEST_F(AwsCredentials, EnvironmentKeysAndRegion) {
  set("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT00001");
  set("AWS_SECRET_ACCESS_KEY", "env-sEcReT");
  set("AWS_SESSION_TOKEN", "env-session-tOkEn");
  set("AWS_DEFAULT_REGION", "eu-west-3");
  auto r = aws::resolve_credentials();
  EXPECT_EQ(r.provider, aws::Provider::Environment);
  EXPECT_EQ(r.credentials.access_key, "AKIAENVIRONMENT00001");
  EXPECT_EQ(r.credentials.secret_key, "env-sEcReT");
  EXPECT_EQ(r.credentials.session_token, "env-session-tOkEn");
  EXPECT_EQ(r.credentials.region, "eu-west-3");
  EXPECT_FALSE(r.credentials.expiration.has_value());
  set("AWS_REGION", "ap-northeast-1");  // AWS_REGION first
  EXPECT_EQ(aws::resolve_credentials().credentials.region, "ap-northeast-1");

  const std::string line = r.log_line();
  EXPECT_NO_SECRET(line);
  EXPECT_NE(line.find("environment"), std::string::npos) << line;
  EXPECT_NE(line.find("****0001"), std::string::npos) << line;
  EXPECT_EQ(line.find("AKIAENVIRONMENT"), std::string::npos) << line;
}

TEST_F(AwsCredentials, EnvironmentKeyWithoutItsPairNamesTheMissingVariable) {
  {
    t::ScopedEnv id("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT00001");
    auto msg = error_of<UsageError>([] { aws::resolve_credentials(); });
    EXPECT_NE(msg.find("AWS_SECRET_ACCESS_KEY is not"), std::string::npos) << msg;
  }
  {
    t::ScopedEnv secret("AWS_SECRET_ACCESS_KEY", "env-sEcReT");
    auto msg = error_of<UsageError>([] { aws::resolve_credentials(); });
    EXPECT_NE(msg.find("AWS_ACCESS_KEY_ID is not"), std::string::npos) << msg;
  }
}

// ---------------------------------------------------------------------------------------------------
TEST_F(AwsCredentials, DefaultProfileOfTheSharedFiles) {
  write_file(credentials_file(),
             "[default]\naws_access_key_id = AKIADEFAULTPROFILE01\naws_secret_access_key = default-sEcReT\n");
  write_file(config_file(), "[default]\nregion = ap-south-1\n");
  auto r = aws::resolve_credentials();
  EXPECT_EQ(r.provider, aws::Provider::SharedFiles);
  EXPECT_EQ(r.credentials.access_key, "AKIADEFAULTPROFILE01");
  EXPECT_EQ(r.credentials.secret_key, "default-sEcReT");
  EXPECT_EQ(r.credentials.session_token, "");
  EXPECT_EQ(r.credentials.region, "ap-south-1");
  EXPECT_NE(r.source.find(credentials_file().string()), std::string::npos) << r.source;
  EXPECT_NE(r.source.find("'default'"), std::string::npos) << r.source;
  EXPECT_NO_SECRET(r.log_line());

  set("AWS_REGION", "us-west-2");  // the environment's region beats the profile's
  EXPECT_EQ(aws::resolve_credentials().credentials.region, "us-west-2");
  // ~ in a path is the home folder, as the SDKs read it.
  set("AWS_SHARED_CREDENTIALS_FILE", "~/credentials");
  EXPECT_EQ(aws::resolve_credentials().credentials.access_key, "AKIADEFAULTPROFILE01");
}

TEST_F(AwsCredentials, NamedProfileWithCommentsBlanksAndKeyCase) {
  write_file(credentials_file(),
             "# leading comment\n"
             "; another one\n"
             "[default]\n"
             "aws_access_key_id = AKIADEFAULTPROFILE01\n"
             "aws_secret_access_key = default-sEcReT\n"
             "\n"
             "[ ci ]   # after the header\r\n"
             "AWS_Access_Key_ID=AKIACIPROFILE0000001\r\n"
             "Aws_Secret_Access_Key \t=   ci-sEcReT/with+chars=   ; a note\r\n"
             "aws_session_token = ci-session-tOkEn#not-a-comment\n"
             "[profile ci]\n"  // a credentials-file section with the prefix is not a profile
             "aws_access_key_id = AKIAIGNORED000000001\n");
  write_file(config_file(),
             "[default]\n"
             "region = us-west-1\n"
             "[profile ci]\n"
             "region = eu-north-1 # comment\n"
             "s3 =\n"
             "  max_concurrent_requests = 20\n"
             "\n"
             "  addressing_style = path\n"
             "[sso-session corp]\n"
             "sso_region = us-east-1\n"
             "[ci]\n"  // a config-file section without the prefix is not a profile
             "region = nowhere-1\n");
  set("AWS_PROFILE", "ci");
  auto r = aws::resolve_credentials();
  EXPECT_EQ(r.provider, aws::Provider::SharedFiles);
  EXPECT_EQ(r.credentials.access_key, "AKIACIPROFILE0000001");
  EXPECT_EQ(r.credentials.secret_key, "ci-sEcReT/with+chars=");
  EXPECT_EQ(r.credentials.session_token, "ci-session-tOkEn#not-a-comment");
  EXPECT_EQ(r.credentials.region, "eu-north-1");
  EXPECT_NE(r.source.find("'ci'"), std::string::npos) << r.source;
}

TEST_F(AwsCredentials, KeysMayBeInTheConfigFileAndTheCredentialsFileWins) {
  write_file(config_file(),
             "[profile build]\n"
             "aws_access_key_id = AKIACONFIGFILE000001\n"
             "aws_secret_access_key = config-sEcReT\n"
             "region = ca-central-1\n"
             "[profile default]\n"  // wins over [default] in the config file
             "region = sa-east-1\n"
             "[default]\n"
             "region = af-south-1\n"
             "aws_access_key_id = AKIAPLAINDEFAULT0001\n"
             "aws_secret_access_key = plain-sEcReT\n");
  set("AWS_PROFILE", "build");
  auto r = aws::resolve_credentials();
  EXPECT_EQ(r.credentials.access_key, "AKIACONFIGFILE000001");
  EXPECT_EQ(r.credentials.region, "ca-central-1");
  EXPECT_NE(r.source.find(config_file().string()), std::string::npos) << r.source;

  write_file(credentials_file(), "[build]\naws_secret_access_key = credentials-sEcReT\n");
  r = aws::resolve_credentials();
  EXPECT_EQ(r.credentials.access_key, "AKIACONFIGFILE000001");
  EXPECT_EQ(r.credentials.secret_key, "credentials-sEcReT");

  // The default profile here is [profile default], which has no keys ([default]'s are ignored).
  set("AWS_PROFILE", nullptr);
  auto msg = error_of<UsageError>([] { aws::resolve_credentials(); });
  EXPECT_NE(msg.find("profile 'default'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no aws_access_key_id"), std::string::npos) << msg;
}

TEST_F(AwsCredentials, UnknownProfileNamesTheProfileAndBothFiles) {
  set("AWS_PROFILE", "nope");
  auto msg = error_of<UsageError>([] { aws::resolve_credentials(); });  // neither file exists
  EXPECT_NE(msg.find("'nope'"), std::string::npos) << msg;
  EXPECT_NE(msg.find(credentials_file().string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(config_file().string()), std::string::npos) << msg;

  write_file(credentials_file(), "[default]\naws_access_key_id = AKIA\naws_secret_access_key = d-sEcReT\n");
  write_file(config_file(), "[profile other]\nregion = eu-west-1\n");
  msg = error_of<UsageError>([] { aws::resolve_credentials(); });
  EXPECT_NE(msg.find("'nope'"), std::string::npos) << msg;
  EXPECT_NE(msg.find(credentials_file().string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(config_file().string()), std::string::npos) << msg;
}

TEST_F(AwsCredentials, MalformedLineNamesTheFileAndTheLine) {
  struct Case {
    std::string text;
    int line;
  };
  const std::vector<Case> cases = {
      {"[default]\naws_secret_access_key sEcReT-without-equals\n", 2},
      {"aws_secret_access_key = sEcReT-before-any-header\n[default]\n", 1},
      {"# fine\n[default\naws_access_key_id = AKIA\n", 2},
      {"[default]\n= sEcReT-without-name\n", 2},
      {"[default] sEcReT-after-header\n", 1},
      {"[default]\n  sEcReT-indented-without-property\n", 2},
      {"[default]\ns3 =\n  max_concurrent_requests = 20\n  sEcReT-sub-without-equals\n", 4},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    write_file(credentials_file(), c.text);
    auto msg = error_of<UsageError>([] { aws::resolve_credentials(); });
    EXPECT_NE(msg.find(credentials_file().string() + ", line " + std::to_string(c.line) + ":"),
              std::string::npos)
        << msg;
  }
  // A malformed config file is named too, even when the credentials file is fine.
  write_file(credentials_file(), "[default]\naws_access_key_id = AKIA\naws_secret_access_key = d-sEcReT\n");
  write_file(config_file(), "[default]\nregion: eu-west-1\n");
  auto msg = error_of<UsageError>([] { aws::resolve_credentials(); });
  EXPECT_NE(msg.find(config_file().string() + ", line 2:"), std::string::npos) << msg;
}

TEST_F(AwsCredentials, ProfilesThatAssumeRolesOrUseSsoAreRefusedByName) {
  EcsStandIn ecs("");  // configured, and must not be asked: no silent fall-through
  ecs.answer(credentials_json("ASIAECS", "ecs-sEcReT", "ecs-tOkEn", Clock::now() + std::chrono::hours(1)));
  set("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs.url());
  set("AWS_PROFILE", "deploy");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"role_arn = arn:aws:iam::123456789012:role/deploy\nsource_profile = default\n", "role_arn"},
      {"credential_process = /usr/local/bin/get-creds --sEcReT\n", "credential_process"},
      {"sso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n", "sso_session"},
      {"web_identity_token_file = /var/run/tOkEn\nrole_session_name = x\n", "web_identity_token_file"},
  };
  for (const auto& [body, key] : cases) {
    SCOPED_TRACE(key);
    write_file(config_file(), "[profile deploy]\nregion = eu-west-1\n" + body);
    auto msg = error_of<UsageError>([] { aws::resolve_credentials(); });
    EXPECT_NE(msg.find("sets " + key + ", which netsentry does not support"), std::string::npos) << msg;
    EXPECT_NE(msg.find(config_file().string()), std::string::npos) << msg;
  }
  EXPECT_EQ(ecs.requests(), 0);
}

TEST_F(AwsCredentials, ProfileWithAKeyAndNoSecretNamesTheMissingKey) {
  write_file(credentials_file(), "[default]\naws_access_key_id = AKIADEFAULTPROFILE01\n");
  auto msg = error_of<UsageError>([] { aws::resolve_credentials(); });
  EXPECT_NE(msg.find("no aws_secret_access_key"), std::string::npos) << msg;
  EXPECT_NE(msg.find(credentials_file().string() + " (line 2)"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------------------------------
TEST_F(AwsCredentials, ContainerEndpointWithAuthorizationToken) {
  EcsStandIn ecs("ecs-auth-tOkEn-1");
  const auto expires = whole_seconds(Clock::now() + std::chrono::hours(6));
  ecs.answer(credentials_json("ASIACONTAINER0000001", "ecs-sEcReT", "ecs-session-tOkEn", expires));
  set("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs.url());
  set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-auth-tOkEn-1");
  set("AWS_REGION", "eu-west-1");
  auto r = aws::resolve_credentials();
  EXPECT_EQ(r.provider, aws::Provider::Container);
  EXPECT_EQ(r.credentials.access_key, "ASIACONTAINER0000001");
  EXPECT_EQ(r.credentials.secret_key, "ecs-sEcReT");
  EXPECT_EQ(r.credentials.session_token, "ecs-session-tOkEn");
  EXPECT_EQ(r.credentials.region, "eu-west-1");
  ASSERT_TRUE(r.credentials.expiration.has_value());
  EXPECT_EQ(*r.credentials.expiration, expires);
  EXPECT_EQ(ecs.requests(), 1);
  const std::string line = r.log_line();
  EXPECT_NO_SECRET(line);
  EXPECT_NE(line.find("ECS container endpoint http://127.0.0.1:"), std::string::npos) << line;
  EXPECT_NE(line.find("temporary, expire at " + iso(expires)), std::string::npos) << line;
}

TEST_F(AwsCredentials, ContainerAuthorizationTokenFileWinsOverTheVariable) {
  EcsStandIn ecs("ecs-file-tOkEn");
  ecs.answer(credentials_json("ASIACONTAINER0000002", "ecs-sEcReT", "ecs-session-tOkEn",
                              Clock::now() + std::chrono::hours(6)));
  write_file(home_ / "token", "ecs-file-tOkEn\n");
  set("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs.url());
  set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-variable-tOkEn");
  set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", (home_ / "token").string());
  EXPECT_EQ(aws::resolve_credentials().credentials.access_key, "ASIACONTAINER0000002");
}

TEST_F(AwsCredentials, ContainerEndpointRefusingTheTokenIsAnError) {
  EcsStandIn ecs("ecs-auth-tOkEn-1");
  set("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs.url());
  set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-wrong-tOkEn");
  auto msg = error_of<UnreachableError>([] { aws::resolve_credentials(); });
  EXPECT_NE(msg.find("ECS container credentials at http://127.0.0.1:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("HTTP 401"), std::string::npos) << msg;
  // A token with a line break never goes into a header.
  set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-auth-tOkEn-1\r\nX-Injected: 1");
  msg = error_of<UsageError>([] { aws::resolve_credentials(); });
  EXPECT_NE(msg.find("line break"), std::string::npos) << msg;
  EXPECT_EQ(ecs.requests(), 1);
}

TEST_F(AwsCredentials, ContainerAnswersThatAreNotCredentialsAreErrors) {
  EcsStandIn ecs("");
  set("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs.url());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"AccessKeyId":"ASIA","SecretAccessKey":"cut-sEcReT)", "not a JSON object"},
      {R"(["ecs-sEcReT"])", "not a JSON object"},
      {R"({"AccessKeyId":"ASIA","Token":"t-tOkEn"})", "has no SecretAccessKey"},
      {R"({"AccessKeyId":"ASIA","SecretAccessKey":7})", "SecretAccessKey is not a string"},
      {R"({"AccessKeyId":"ASIA","SecretAccessKey":"s-sEcReT","Expiration":"soon"})", "Expiration 'soon'"},
      {R"({"AccessKeyId":"ASIA","SecretAccessKey":"s-sEcReT","Expiration":"9999-12-31T23:59:59Z"})",
       "Expiration '9999-12-31T23:59:59Z' is not a time"},
      {R"({"Code":"Failure","AccessKeyId":"ASIA","SecretAccessKey":"s-sEcReT"})", "Code is 'Failure'"},
  };
  for (const auto& [body, expected] : cases) {
    SCOPED_TRACE(body);
    ecs.answer(body);
    auto msg = error_of<UnreachableError>([] { aws::resolve_credentials(); });
    EXPECT_NE(msg.find(expected), std::string::npos) << msg;
  }
}

TEST_F(AwsCredentials, ContainerFullUriToAPlainHttpRemoteHostIsRefused) {
  for (const char* uri :
       {"http://192.0.2.10/creds", "http://169.254.169.254/latest", "http://example.com:80/c",
        "http://127.0.0.1.example.com/c", "file:///etc/passwd", "not a url"}) {
    SCOPED_TRACE(uri);
    t::ScopedEnv full("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri);
    auto msg = error_of<UsageError>([] { aws::resolve_credentials(); });
    EXPECT_NE(msg.find("AWS_CONTAINER_CREDENTIALS_FULL_URI"), std::string::npos) << msg;
  }
  {
    t::ScopedEnv full("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.10/creds");
    auto msg = error_of<UsageError>([] { aws::resolve_credentials(); });
    EXPECT_NE(msg.find("plain http to '192.0.2.10' is refused"), std::string::npos) << msg;
  }
  // Allowed without a request being made: https anywhere, http to loopback and the ECS/EKS agents.
  for (const char* uri :
       {"https://creds.example.com/v1", "http://localhost:8080/c", "http://127.0.0.2/c", "http://[::1]:9/c",
        "http://169.254.170.2/v2/c", "http://169.254.170.23/v1/c", "http://[fd00:ec2::23]/v1/c"}) {
    SCOPED_TRACE(uri);
    t::ScopedEnv full("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri);
    EXPECT_EQ(aws::container_credentials_url(), uri);
  }
}

TEST_F(AwsCredentials, ContainerRelativeUriGoesToTheEcsAgentAndWinsOverTheFullUri) {
  // Only the URL is checked: nothing is sent to 169.254.170.2.
  set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds");
  set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/0123-abcd");
  EXPECT_EQ(aws::container_credentials_url(), "http://169.254.170.2/v2/credentials/0123-abcd");
  set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", nullptr);
  EXPECT_EQ(aws::container_credentials_url(), "http://127.0.0.1:9/creds");
}

// ---------------------------------------------------------------------------------------------------
TEST_F(AwsCredentials, InstanceMetadataV2TokenRoleCredentialsAndRegion) {
  ImdsStandIn imds;
  const auto expires = whole_seconds(Clock::now() + std::chrono::hours(6));
  imds.set_credentials(
      credentials_json("ASIAIMDSROLE00000001", "imds-sEcReT", "imds-session-tOkEn", expires));
  use_imds(imds);
  auto r = aws::resolve_credentials();
  EXPECT_EQ(r.provider, aws::Provider::InstanceMetadata);
  EXPECT_EQ(r.credentials.access_key, "ASIAIMDSROLE00000001");
  EXPECT_EQ(r.credentials.secret_key, "imds-sEcReT");
  EXPECT_EQ(r.credentials.session_token, "imds-session-tOkEn");
  ASSERT_TRUE(r.credentials.expiration.has_value());
  EXPECT_EQ(*r.credentials.expiration, expires);
  EXPECT_EQ(r.credentials.region, "eu-central-1");  // the instance's placement
  EXPECT_EQ(imds.token_requests(), 1);
  EXPECT_EQ(imds.refused(), 0);  // every GET carried the session token
  EXPECT_EQ(imds.requests(), 4);
  const std::string line = r.log_line();
  EXPECT_NO_SECRET(line);
  EXPECT_NE(line.find("role 'netsentry-task-role'"), std::string::npos) << line;

  set("AWS_REGION", "us-east-2");  // the environment's region: placement is not asked
  EXPECT_EQ(aws::resolve_credentials().credentials.region, "us-east-2");
  EXPECT_EQ(imds.region_requests(), 1);
  set("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint() + "/");  // a trailing slash is fine
  EXPECT_EQ(aws::resolve_credentials().credentials.access_key, "ASIAIMDSROLE00000001");
}

TEST_F(AwsCredentials, InstanceMetadataAnswering500IsAnError) {
  ImdsStandIn imds;
  use_imds(imds);
  imds.token_status = 500;
  auto msg = error_of<UnreachableError>([] { aws::resolve_credentials(); });
  EXPECT_NE(msg.find("EC2 instance metadata at " + imds.endpoint()), std::string::npos) << msg;
  EXPECT_NE(msg.find("PUT /latest/api/token: HTTP 500"), std::string::npos) << msg;

  imds.token_status = 200;
  imds.credentials_status = 500;
  msg = error_of<UnreachableError>([] { aws::resolve_credentials(); });
  EXPECT_NE(msg.find("/netsentry-task-role: HTTP 500"), std::string::npos) << msg;

  imds.credentials_status = 200;
  imds.set_credentials(R"({"Code":"Success","AccessKeyId":"ASIA","SecretAccessKey":"imds-sEcReT","Token":)");
  msg = error_of<UnreachableError>([] { aws::resolve_credentials(); });
  EXPECT_NE(msg.find("not a JSON object"), std::string::npos) << msg;
}

TEST_F(AwsCredentials, NothingFoundListsWhatWasTried) {
  auto msg = error_of<UsageError>([] { aws::resolve_credentials(); });
  EXPECT_NE(msg.find("no credentials found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"), std::string::npos) << msg;
  EXPECT_NE(msg.find(credentials_file().string() + " and " + config_file().string()), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("AWS_CONTAINER_CREDENTIALS_FULL_URI are not set"), std::string::npos) << msg;
  EXPECT_NE(msg.find("AWS_EC2_METADATA_DISABLED=true"), std::string::npos) << msg;

  ImdsStandIn imds;  // an instance without a role
  imds.role_status = 404;
  use_imds(imds);
  msg = error_of<UsageError>([] { aws::resolve_credentials(); });
  EXPECT_NE(msg.find(imds.endpoint() + " (the instance has no IAM role)"), std::string::npos) << msg;
}

// A metadata address that takes the connection and never answers (as a firewall may): the chain gives
// up after the request timeout instead of hanging.
TEST_F(AwsCredentials, SilentInstanceMetadataFailsFast) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(fd, 4), 0);  // never accepted: the kernel completes the handshake, no one answers
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  set("AWS_EC2_METADATA_DISABLED", "false");
  set("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  const auto start = std::chrono::steady_clock::now();
  auto msg = error_of<UsageError>([] { aws::resolve_credentials(); });
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  EXPECT_NE(msg.find("(no answer: "), std::string::npos) << msg;
  EXPECT_LT(took, std::chrono::seconds(6));
}

// ---------------------------------------------------------------------------------------------------
TEST_F(AwsCredentials, PrecedenceEnvironmentFilesContainerInstanceMetadata) {
  ImdsStandIn imds;
  use_imds(imds);
  EcsStandIn ecs("");
  ecs.answer(credentials_json("ASIACONTAINER0000001", "ecs-sEcReT", "ecs-tOkEn",
                              Clock::now() + std::chrono::hours(1)));
  set("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs.url());
  write_file(credentials_file(),
             "[default]\naws_access_key_id = AKIADEFAULTPROFILE01\naws_secret_access_key = default-sEcReT\n");
  set("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT00001");
  set("AWS_SECRET_ACCESS_KEY", "env-sEcReT");
  set("AWS_REGION", "eu-west-1");

  EXPECT_EQ(aws::resolve_credentials().provider, aws::Provider::Environment);
  set("AWS_ACCESS_KEY_ID", nullptr);
  set("AWS_SECRET_ACCESS_KEY", nullptr);
  auto r = aws::resolve_credentials();
  EXPECT_EQ(r.provider, aws::Provider::SharedFiles);
  EXPECT_EQ(r.credentials.access_key, "AKIADEFAULTPROFILE01");
  EXPECT_EQ(ecs.requests(), 0);
  EXPECT_EQ(imds.requests(), 0);
  std::filesystem::remove(credentials_file());
  r = aws::resolve_credentials();
  EXPECT_EQ(r.provider, aws::Provider::Container);
  EXPECT_EQ(r.credentials.access_key, "ASIACONTAINER0000001");
  EXPECT_EQ(imds.requests(), 0);
  set("AWS_CONTAINER_CREDENTIALS_FULL_URI", nullptr);
  r = aws::resolve_credentials();
  EXPECT_EQ(r.provider, aws::Provider::InstanceMetadata);
  EXPECT_EQ(r.credentials.access_key, "ASIAIMDSROLE00000001");
  EXPECT_EQ(ecs.requests(), 1);
}

// ---------------------------------------------------------------------------------------------------
// An S3 stand-in that records the access key and the session token of every request.
class S3StandIn {
 public:
  std::vector<std::string> keys() {
    std::lock_guard<std::mutex> lock(mu_);
    return keys_;
  }
  std::vector<std::string> tokens() {
    std::lock_guard<std::mutex> lock(mu_);
    return tokens_;
  }
  std::string endpoint() const { return server_.url(); }

 private:
  std::mutex mu_;
  std::vector<std::string> keys_, tokens_;
  t::LoopbackHttpServer server_{[this](httplib::Server& s) {
    s.Put(R"(/bucket/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string auth = req.get_header_value("Authorization");
      const auto from = auth.find("Credential=") + 11;
      std::lock_guard<std::mutex> lock(mu_);
      keys_.push_back(auth.substr(from, auth.find('/', from) - from));
      tokens_.push_back(req.get_header_value("x-amz-security-token"));
      res.status = 200;
    });
  }};
};

TEST_F(AwsCredentials, ClientRefreshesCredentialsBeforeTheyExpire) {
  LogCapture log;
  S3StandIn s3;
  EcsStandIn ecs("");
  ecs.answer_first(credentials_json("ASIAFIRST0000000001", "first-sEcReT", "first-tOkEn",
                                    Clock::now() + std::chrono::minutes(2)),
                   credentials_json("ASIASECOND000000002", "second-sEcReT", "second-tOkEn",
                                    Clock::now() + std::chrono::hours(6)));
  set("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs.url());
  set("AWS_REGION", "us-east-1");
  auto r = aws::resolve_credentials();
  ASSERT_EQ(r.credentials.access_key, "ASIAFIRST0000000001");
  spdlog::info("{}", r.log_line());
  s3::Client client(s3.endpoint(), r.credentials, aws::refresh_by_resolving());
  client.put_object("bucket", "a", "1");  // within 5 minutes of the expiration: refreshed first
  client.put_object("bucket", "b", "2");  // valid for hours: no new request
  EXPECT_EQ(s3.keys(), (std::vector<std::string>{"ASIASECOND000000002", "ASIASECOND000000002"}));
  EXPECT_EQ(s3.tokens(), (std::vector<std::string>{"second-tOkEn", "second-tOkEn"}));
  EXPECT_EQ(ecs.requests(), 2);
  const std::string text = log.text();
  EXPECT_NE(text.find("(refreshed)"), std::string::npos) << text;
  EXPECT_NO_SECRET(text);
}

TEST_F(AwsCredentials, ClientKeepsValidCredentialsWhenARefreshFails) {
  LogCapture log;
  S3StandIn s3;
  s3::Credentials c;
  c.access_key = "ASIASTILLVALID000001";
  c.secret_key = "valid-sEcReT";
  c.session_token = "valid-tOkEn";
  c.expiration = Clock::now() + std::chrono::minutes(1);
  int tries = 0;
  auto failing = [&tries]() -> s3::Credentials {
    ++tries;
    throw UnreachableError("ECS container credentials at http://127.0.0.1:1: connection refused");
  };
  s3::Client client(s3.endpoint(), c, failing);
  client.put_object("bucket", "a", "1");
  client.put_object("bucket", "b", "2");  // no second try within 30 s while the credentials are valid
  EXPECT_EQ(tries, 1);
  EXPECT_EQ(s3.keys(), (std::vector<std::string>{"ASIASTILLVALID000001", "ASIASTILLVALID000001"}));
  const std::string text = log.text();
  EXPECT_NE(text.find("cannot refresh the credentials"), std::string::npos) << text;
  EXPECT_NO_SECRET(text);

  c.expiration = Clock::now() - std::chrono::seconds(1);  // expired: the failure is the request's
  s3::Client expired(s3.endpoint(), c, failing);
  auto msg = error_of<UnreachableError>([&] { expired.put_object("bucket", "c", "3"); });
  EXPECT_NE(msg.find("connection refused"), std::string::npos) << msg;
  EXPECT_EQ(s3.keys().size(), 2u);
}
