// `netsentry healthcheck` and the probe under it (serve/probe.hpp): a 200 from a running server is
// healthy; nothing listening, no answer, another status, an oversized answer and a malformed URL are
// not, each said in one line that names the URL and what happened.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "netsentry/core/error.hpp"
#include "netsentry/serve/probe.hpp"
#include "support/loopback_http_server.hpp"
#include "support/paths.hpp"
#include "support/serve_harness.hpp"

namespace netsentry::test {
namespace {

using namespace std::chrono_literals;
using serve::ProbeOutcome;

// A TCP socket on a free loopback port: bound and never listening (a connect is refused), or
// listening and never accepting (the kernel completes the handshake, nobody ever answers).
class LoopbackSocket {
 public:
  explicit LoopbackSocket(bool listening) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    if (listening && ::listen(fd_, 8) != 0) return;
    socklen_t len = sizeof a;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) port_ = ntohs(a.sin_port);
  }
  ~LoopbackSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;
  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

std::string usage_error(const std::string& url) {
  try {
    serve::parse_probe_url(url);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(Healthcheck, ParsesHttpUrls) {
  auto u = serve::parse_probe_url("http://127.0.0.1:8080/healthz");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, "8080");
  EXPECT_EQ(u.target, "/healthz");
  u = serve::parse_probe_url("HTTP://netsentry");
  EXPECT_EQ(u.host, "netsentry");
  EXPECT_EQ(u.port, "80");
  EXPECT_EQ(u.target, "/");
  u = serve::parse_probe_url("http://[::1]:9000?x=1");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, "9000");
  EXPECT_EQ(u.target, "/?x=1");
}

TEST(Healthcheck, RefusesMalformedUrlsNamingThemAndWhatIsWrong) {
  EXPECT_NE(usage_error("https://127.0.0.1/healthz").find("https is not supported"), std::string::npos);
  EXPECT_NE(usage_error("ftp://h/").find("expected http://HOST[:PORT][/PATH]"), std::string::npos);
  EXPECT_NE(usage_error("127.0.0.1:8080").find("'127.0.0.1:8080'"), std::string::npos);
  EXPECT_NE(usage_error("http:///healthz").find("the host is empty"), std::string::npos);
  EXPECT_NE(usage_error("http://h:0/").find("1..65535 (got '0')"), std::string::npos);
  EXPECT_NE(usage_error("http://h:65536/").find("1..65535"), std::string::npos);
  EXPECT_NE(usage_error("http://h:80a/").find("1..65535 (got '80a')"), std::string::npos);
  EXPECT_NE(usage_error("http://h:/").find("the port after ':' is empty"), std::string::npos);
  EXPECT_NE(usage_error("http://::1:80/").find("in brackets"), std::string::npos);
  EXPECT_NE(usage_error("http://[::1/").find("must end with ']'"), std::string::npos);
  EXPECT_NE(usage_error("http://u:p@h/").find("user information"), std::string::npos);
  EXPECT_NE(usage_error("http://h/a b").find("spaces or control characters"), std::string::npos);
  EXPECT_NE(usage_error("http://h/#x").find("fragment"), std::string::npos);
}

TEST(Healthcheck, ARunningServerAnswers200OnHealthzAndReadyz) {
  TempDir tmp;
  copy_bundle(serve_bundle('a'), tmp / "final_model");
  ServeHarness h(test_serve_options(tmp / "final_model"));
  const std::string base = "http://127.0.0.1:" + std::to_string(h.port());
  for (const char* path : {"/healthz", "/readyz"}) {
    const auto url = serve::parse_probe_url(base + path);
    const auto r = serve::probe(url, 10s);
    ASSERT_EQ(r.outcome, ProbeOutcome::Answered) << r.error;
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(serve::describe(url, r), base + path + ": 200 OK");
  }
  const auto ready = serve::probe(serve::parse_probe_url(base + "/readyz"), 10s);
  EXPECT_NE(ready.body.find("\"status\":\"ready\""), std::string::npos) << ready.body;

  // Another status is an answer, and not a healthy one: the line says which and what was expected.
  const auto url = serve::parse_probe_url(base + "/no-such-route");
  const auto r = serve::probe(url, 10s);
  ASSERT_EQ(r.outcome, ProbeOutcome::Answered) << r.error;
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(serve::describe(url, r).find(": 404 Not Found, expected 200 (body '"), std::string::npos)
      << serve::describe(url, r);

  // The CLI against the same server: exit 0 and the line on stdout.
  const auto ok = run_cli("healthcheck --url " + shell_quote(base + "/healthz"));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "healthcheck " + base + "/healthz: 200 OK\n");
  const auto missing = run_cli("healthcheck --url " + shell_quote(base + "/no-such-route"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("404 Not Found, expected 200"), std::string::npos) << missing.err;
}

TEST(Healthcheck, NothingListeningIsRefused) {
  LoopbackSocket dead(false);
  ASSERT_GT(dead.port(), 0);
  const auto url = serve::parse_probe_url(dead.url("/healthz"));
  const auto r = serve::probe(url, 10s);
  EXPECT_EQ(r.outcome, ProbeOutcome::Refused) << r.error;
  EXPECT_EQ(serve::describe(url, r),
            dead.url("/healthz") +
                ": connection refused (nothing listens on 127.0.0.1:" + std::to_string(dead.port()) + ")");

  const auto cli = run_cli("healthcheck --url " + shell_quote(dead.url("/healthz")));
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_TRUE(cli.out.empty()) << cli.out;
  EXPECT_NE(cli.err.find("healthcheck " + dead.url("/healthz") + ": connection refused"), std::string::npos)
      << cli.err;
  // One line: a log reader (docker inspect, kubectl describe) sees the whole reason.
  EXPECT_EQ(std::count(cli.err.begin(), cli.err.end(), '\n'), 1) << cli.err;
}

TEST(Healthcheck, NoAnswerWithinTheTimeoutIsUnhealthy) {
  // The connection is made (the kernel's backlog) but no answer ever comes, however long one waits.
  LoopbackSocket silent(true);
  ASSERT_GT(silent.port(), 0);
  const auto url = serve::parse_probe_url(silent.url("/healthz"));
  const auto r = serve::probe(url, 300ms);
  EXPECT_EQ(r.outcome, ProbeOutcome::Timeout);
  EXPECT_EQ(serve::describe(url, r), silent.url("/healthz") + ": no answer within 0.3 s");

  const auto cli = run_cli("healthcheck --timeout-seconds 0.3 --url " + shell_quote(silent.url("/healthz")));
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_NE(cli.err.find(": no answer within 0.3 s"), std::string::npos) << cli.err;
}

TEST(Healthcheck, OnlyA200IsHealthyAndAnOversizedAnswerIsRefused) {
  LoopbackHttpServer stand_in([](httplib::Server& s) {
    s.Get("/empty", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
    s.Get("/stopping", [](const httplib::Request&, httplib::Response& res) {
      res.status = 503;
      res.set_content("{\"status\":\"stopping\"}", "application/json");
    });
    s.Get("/huge", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(serve::kProbeMaxBody + 1, 'x'), "text/plain");
    });
    s.Get("/host", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.get_header_value("Host"), "text/plain");
    });
  });
  auto get = [&](const std::string& path) {
    return serve::probe(serve::parse_probe_url(stand_in.url() + path), 10s);
  };
  const auto empty = get("/empty");
  ASSERT_EQ(empty.outcome, ProbeOutcome::Answered) << empty.error;
  EXPECT_EQ(empty.status, 204);
  const auto cli = run_cli("healthcheck --url " + shell_quote(stand_in.url() + "/empty"));
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_NE(cli.err.find(": 204 No Content, expected 200"), std::string::npos) << cli.err;

  const auto stopping = get("/stopping");
  EXPECT_EQ(stopping.status, 503);
  EXPECT_NE(serve::describe(serve::parse_probe_url(stand_in.url() + "/stopping"), stopping)
                .find("503 Service Unavailable, expected 200 (body '{\"status\":\"stopping\"}')"),
            std::string::npos);

  const auto huge = get("/huge");
  EXPECT_EQ(huge.outcome, ProbeOutcome::Failed);
  EXPECT_EQ(huge.error, "the answer's body is larger than 65536 bytes");

  const auto host = get("/host");
  EXPECT_EQ(host.body, "127.0.0.1:" + std::to_string(stand_in.port()));
}

TEST(Healthcheck, BadArgumentsAreUsageErrors) {
  const auto url = run_cli("healthcheck --url https://127.0.0.1:8080/healthz");
  EXPECT_EQ(url.exit_code, kExitUsage);
  EXPECT_NE(url.err.find("healthcheck URL 'https://127.0.0.1:8080/healthz': https is not supported"),
            std::string::npos)
      << url.err;
  const auto timeout = run_cli("healthcheck --timeout-seconds 0");
  EXPECT_EQ(timeout.exit_code, kExitUsage);
  EXPECT_NE(timeout.err.find("--timeout-seconds"), std::string::npos) << timeout.err;
  // A name no resolver knows (RFC 2606's .invalid): NXDOMAIN, or a resolver's own time-out (EAI_AGAIN),
  // well within the 30 s; either way the name did not resolve.
  const auto host =
      run_cli("healthcheck --timeout-seconds 30 --url http://no-such-host.invalid:8080/healthz");
  EXPECT_EQ(host.exit_code, 1);
  EXPECT_NE(host.err.find("cannot resolve host 'no-such-host.invalid'"), std::string::npos) << host.err;
}

}  // namespace
}  // namespace netsentry::test
