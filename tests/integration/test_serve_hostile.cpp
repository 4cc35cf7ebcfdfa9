// Hostile HTTP input to `netsentry serve`, on the wire: header counts and sizes over the limits, a
// request line over them, a body over the body limit or cut short by the end of the connection,
// obsolete line folding, bare LF / CR line endings, control and non-ASCII bytes in header names and
// values, no Host or two of them, the other request-target forms, unknown and disallowed methods,
// HTTP/1.0 and HTTP/2, transfer codings other than chunked, pipelined requests whose second is
// malformed, malformed multipart uploads, wrong media types and JSON bodies of the wrong shape.
// Each gets its exact status and a JSON error that says what was wrong, quotes no secret or file
// content from the request, and leaves the server answering /healthz and a valid prediction.
// (test_serve_limits.cpp has the limits' first cases: smuggling framings, deep JSON, traversal.)
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>

#include "netsentry/table/csv.hpp"
#include "support/paths.hpp"
#include "support/serve_harness.hpp"

namespace netsentry::test {
namespace {

using nlohmann::json;

// What every hostile request carries and no answer may quote: the server's API token, a cookie, and
// a marker inside bodies and uploads.
const std::string kSecretHeaders = "Authorization: Bearer test-token\r\nCookie: session=c00kie-s3cret\r\n";
const std::vector<std::string> kSecrets = {"test-token", "c00kie-s3cret", "b0dy-s3cret", "root:"};

// One answer of the server, as read from the socket.
struct Answer {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  json error() const {
    const json j = json::parse(body, nullptr, false);
    return j.is_object() && j.contains("error") ? j : json();
  }
};

// The answers in `raw`, in order (each framed by its Content-Length).
std::vector<Answer> parse_answers(const std::string& raw) {
  std::vector<Answer> out;
  std::size_t at = 0;
  while (at < raw.size()) {
    const std::size_t end = raw.find("\r\n\r\n", at);
    if (end == std::string::npos) break;
    Answer a;
    const std::string head = raw.substr(at, end - at);
    const std::size_t sp = head.find(' ');
    if (sp == std::string::npos || head.size() < sp + 4) break;
    a.version = head.substr(0, sp);
    a.status = std::stoi(head.substr(sp + 1, 3));
    for (std::size_t p = head.find("\r\n"); p != std::string::npos;) {
      const std::size_t q = head.find("\r\n", p + 2);
      const std::string line = head.substr(p + 2, q == std::string::npos ? std::string::npos : q - p - 2);
      const std::size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        a.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      }
      p = q;
    }
    const std::size_t length =
        a.headers.count("content-length") ? std::stoul(a.headers["content-length"]) : 0;
    a.body = raw.substr(end + 4, length);
    at = end + 4 + length;
    out.push_back(std::move(a));
  }
  return out;
}

// Sends `bytes` on a new connection, closes its sending side (the end of the request, as far as the
// server can tell) and returns everything the server answers until it closes (or 5 s pass).
std::string exchange(int port, const std::string& bytes) {
  const int fd = connect_loopback(port);
  if (fd < 0) return "";
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (std::size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server refused early and closed: its answer is still there to read
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

class ServeHostile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_ / "final_model";
    copy_bundle(serve_bundle('a'), dir_);
    auto opt = test_serve_options(dir_);
    opt.max_rows = 50;
    opt.max_body_bytes = 64 * 1024;
    h_ = std::make_unique<ServeHarness>(opt);
    cli_ = h_->client();
  }

  json record() {
    Table t = parse_csv(sample_csv_rows(1, false), "sample");
    json o = json::object();
    for (const auto& c : t.columns) o[c.name] = c.num[0];
    return o;
  }
  std::string one_record() { return json{{"records", json::array({record()})}}.dump(); }

  // /healthz and a valid prediction are answered as ever, on a new connection.
  void expect_healthy(const std::string& after) {
    auto c = h_->client();
    auto health = c->Get("/healthz");
    ASSERT_TRUE(health) << "after " << after;
    EXPECT_EQ(health->status, 200) << "after " << after;
    EXPECT_EQ(health->body, "{\"status\":\"ok\"}") << "after " << after;
    auto p = c->Post("/api/v1/predict", one_record(), "application/json");
    ASSERT_TRUE(p) << "after " << after;
    ASSERT_EQ(p->status, 200) << "after " << after << ": " << p->body;
    EXPECT_EQ(json::parse(p->body)["count"], 1) << "after " << after;
  }

  static void expect_no_secret(const std::string& answer, const std::string& name) {
    for (const auto& s : kSecrets) EXPECT_EQ(answer.find(s), std::string::npos) << name << " quotes " << s;
  }

  // An answer with `status` and a JSON error containing `message`.
  static void expect_error(const Answer& a, int status, const std::string& message, const std::string& name) {
    EXPECT_EQ(a.status, status) << name << ": " << a.body;
    const json e = a.error();
    ASSERT_TRUE(e.is_object()) << name << ": not a JSON error: " << a.body;
    EXPECT_NE(e["error"].get<std::string>().find(message), std::string::npos)
        << name << ": expected \"" << message << "\" in " << e["error"];
    EXPECT_NE(a.headers.count("content-type") ? a.headers.at("content-type").find("application/json")
                                              : std::string::npos,
              std::string::npos)
        << name;
  }

  TempDir tmp_;
  std::filesystem::path dir_;
  std::unique_ptr<ServeHarness> h_;
  std::unique_ptr<httplib::Client> cli_;
};

// A GET with the secrets and `fields` (each ending with CRLF) after the Host header.
std::string get(const std::string& target, const std::string& fields = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + kSecretHeaders + fields + "\r\n";
}

TEST_F(ServeHostile, MalformedAndOverLimitRequestsGetTheirStatusAndSayWhatIsWrong) {
  struct Case {
    std::string name, request;
    int status;
    std::string message;  // in the JSON error; empty: a success whose body is `{"status":"ok"}`
    std::string allow{};  // the Allow header of a 405
  };
  std::string many_fields, many_small_fields;
  for (int i = 0; i < 120; ++i) many_fields += "X-Field-" + std::to_string(i) + ": v\r\n";
  for (int i = 0; i < 4000; ++i) many_small_fields += "a: b\r\n";
  const std::string body = "{\"records\": [], \"note\": \"b0dy-s3cret\"}";
  const std::string post_head =
      "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\n" + kSecretHeaders + "Content-Type: application/json\r\n";
  const std::vector<Case> cases = {
      // Sizes and counts (serve.max_header_bytes = 16384, serve.max_header_fields = 100).
      {"120 header fields", get("/healthz", many_fields), 431, "serve.max_header_fields = 100"},
      {"4000 header fields in 24 KB", get("/healthz", many_small_fields), 431,
       "serve.max_header_bytes = 16384"},
      {"one 40 KB header line", get("/healthz", "X-Big: " + std::string(40000, 'a') + "\r\n"), 431,
       "serve.max_header_bytes = 16384"},
      {"a 20 KB URI", get("/healthz?" + std::string(20000, 'a')), 414,
       "request line (the URI) longer than serve.max_header_bytes = 16384"},
      {"a request line that never ends", "GET /" + std::string(20000, 'a'), 414, "request line"},
      {"a body over serve.max_body_bytes",
       post_head + "Content-Length: 70000\r\n\r\n" + std::string(70000 - 11, ' ') + "b0dy-s3cret", 413,
       "serve.max_body_bytes = 65536"},
      // Cut short by the end of the connection.
      {"Content-Length over what is sent", post_head + "Content-Length: 5000\r\n\r\n" + body, 400,
       "the connection ended before the whole request body arrived"},
      {"a chunked body that stops", post_head + "Transfer-Encoding: chunked\r\n\r\n10\r\n{\"records\": [b0d",
       400, "the connection ended before the whole request body arrived"},
      {"a header that stops", "GET /healthz HTTP/1.1\r\nHost: x\r\n" + kSecretHeaders, 400,
       "the connection ended within the request header"},
      // Line structure.
      {"obsolete line folding", get("/healthz", "X-Folded: a\r\n b0dy-s3cret\r\n"), 400,
       "obsolete line folding"},
      {"obsolete line folding with a tab", get("/healthz", "X-Folded: a\r\n\tb\r\n"), 400,
       "obsolete line folding"},
      {"bare LF everywhere", "GET /healthz HTTP/1.1\nHost: x\nAuthorization: Bearer test-token\n\n", 400,
       "bare LF or CR"},
      {"bare LF after one field", "GET /healthz HTTP/1.1\r\nHost: x\nCookie: session=c00kie-s3cret\r\n\r\n",
       400, "bare LF or CR"},
      {"bare CR", "GET /healthz HTTP/1.1\rHost: x\r\n" + kSecretHeaders + "\r\n", 400, "bare LF or CR"},
      {"bare CR inside a field", get("/healthz", "X-A: a\rb\r\n"), 400, "bare LF or CR"},
      {"a space in the target", "GET /heal thz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "the request line is not"},
      // Bytes in header names and values.
      {"a control byte in a name", get("/healthz", "X-\x01Name: v\r\n"), 400, "a header name"},
      {"a non-ASCII name", get("/healthz", "X-Caf\xc3\xa9: v\r\n"), 400, "a header name"},
      {"an empty name", get("/healthz", ": v\r\n"), 400, "a header name"},
      {"an escape sequence in a value", get("/healthz", "X-A: \x1b[31mred\r\n"), 400, "a control byte"},
      {"NUL in a value", get("/healthz", std::string("X-A: a\0b\r\n", 10)), 400, "a control byte"},
      {"DEL in a value", get("/healthz", "X-A: a\x7f\r\n"), 400, "a control byte"},
      // Non-ASCII (obs-text) in a value is allowed by RFC 9110 and never used: answered normally.
      {"a non-ASCII value", get("/healthz", "User-Agent: caf\xc3\xa9 \xff\r\n"), 200, ""},
      // Host.
      {"two Host headers", "GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, "more than one Host"},
      {"no Host in HTTP/1.1", "GET /healthz HTTP/1.1\r\n" + kSecretHeaders + "\r\n", 400,
       "an HTTP/1.1 request needs a Host header"},
      // Request-target forms: absolute form is routed by its path; authority and asterisk forms are refused.
      {"absolute form", "GET http://example.com/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200, ""},
      {"absolute form, upper-case scheme", "GET HTTP://example.com:8080/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
       200, ""},
      {"absolute form towards a file", "GET http://x/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404,
       "not found"},
      {"absolute form without a host", "GET http:///healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400,
       "the request target must be a path"},
      {"another scheme", "GET file:///etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 400,
       "the request target must be a path"},
      {"authority form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 400,
       "the request target must be a path"},
      {"asterisk form", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400, "the request target must be a path"},
      // Methods.
      {"an unknown method", "BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405, "allowed: GET", "GET"},
      {"a lower-case method", "get /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405, "allowed: GET", "GET"},
      {"DELETE on predict", "DELETE /api/v1/predict HTTP/1.1\r\nHost: x\r\n\r\n", 405, "allowed: POST",
       "POST"},
      {"GET on predict", get("/api/v1/predict"), 405, "allowed: POST", "POST"},
      {"POST on healthz", "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405,
       "allowed: GET", "GET"},
      {"PUT on the reference train route", "PUT /train HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405,
       "allowed: GET, POST", "GET, POST"},
      {"a method that is not a token", "GE(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "the method"},
      // Versions.
      {"HTTP/1.0 without Host", "GET /healthz HTTP/1.0\r\n\r\n", 200, ""},
      {"the HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "HTTP/2.0 is not supported"},
      {"an HTTP/2.0 request line", get("/healthz").replace(13, 8, "HTTP/2.0"), 505,
       "HTTP/2.0 is not supported"},
      {"HTTP/3.0", get("/healthz").replace(13, 8, "HTTP/3.0"), 505, "HTTP/3.0 is not supported"},
      {"HTTP/1.2", get("/healthz").replace(13, 8, "HTTP/1.2"), 400, "the request line is not"},
      {"HTTP/0.9 (no version)", "GET /healthz\r\n\r\n", 400, "malformed HTTP request"},
      // Transfer codings other than chunked: Beast would take the body as absent and its bytes as the
      // next request.
      {"Transfer-Encoding: gzip", post_head + "Transfer-Encoding: gzip\r\n\r\n" + body, 400,
       "must end with chunked"},
      {"Transfer-Encoding: chunked, gzip", post_head + "Transfer-Encoding: chunked, gzip\r\n\r\n" + body, 400,
       "must end with chunked"},
      {"Transfer-Encoding: gzip, chunked", post_head + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
       501, "Transfer-Encoding other than chunked is not supported"},
      {"Transfer-Encoding in two fields",
       post_head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n", 400,
       "must end with chunked"},
      {"a negative Content-Length", post_head + "Content-Length: -5\r\n\r\n", 400, "Content-Length"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string raw = exchange(h_->port(), c.request);
    const auto answers = parse_answers(raw);
    ASSERT_EQ(answers.size(), 1u) << c.name << ": " << raw.substr(0, 300);
    const Answer& a = answers[0];
    if (c.message.empty()) {
      EXPECT_EQ(a.status, c.status) << c.name << ": " << a.body;
      EXPECT_EQ(a.body, "{\"status\":\"ok\"}") << c.name;
    } else {
      expect_error(a, c.status, c.message, c.name);
    }
    if (!c.allow.empty()) {
      EXPECT_EQ(a.headers.count("allow") ? a.headers.at("allow") : "", c.allow) << c.name;
    }
    // The answer speaks the request's version when it is one the server speaks.
    EXPECT_EQ(a.version, c.name.rfind("HTTP/1.0", 0) == 0 ? "HTTP/1.0" : "HTTP/1.1") << c.name;
    expect_no_secret(raw, c.name);
    expect_healthy(c.name);
  }
  // /metrics counts the refusals as route "other" (no route answered them), by code; "/" was never asked.
  auto m = cli_->Get("/metrics");
  ASSERT_TRUE(m);
  for (const char* line : {"netsentry_http_requests_total{route=\"other\",code=\"400\"}",
                           "netsentry_http_requests_total{route=\"other\",code=\"405\"}",
                           "netsentry_http_requests_total{route=\"other\",code=\"414\"}",
                           "netsentry_http_requests_total{route=\"other\",code=\"431\"}",
                           "netsentry_http_requests_total{route=\"other\",code=\"501\"}",
                           "netsentry_http_requests_total{route=\"other\",code=\"505\"}"})
    EXPECT_NE(m->body.find(line), std::string::npos) << line;
  EXPECT_EQ(m->body.find("netsentry_http_requests_total{route=\"/\","), std::string::npos) << m->body;
}

// serve.max_header_bytes and serve.max_header_fields are the server's limits: a header just within
// them is answered, one byte or one field more is refused naming the setting and its value.
TEST_F(ServeHostile, TheHeaderLimitsAreTheConfiguredOnes) {
  auto opt = test_serve_options(dir_);
  opt.max_header_bytes = 2048;
  opt.max_header_fields = 10;
  h_ = std::make_unique<ServeHarness>(opt);
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  auto padded = [&](std::size_t total) {  // a request whose header is `total` bytes
    const std::size_t fixed = head.size() + std::string("X-Pad: \r\n\r\n").size();
    return head + "X-Pad: " + std::string(total - fixed, 'p') + "\r\n\r\n";
  };
  std::string ten_fields;  // with Host: 10
  for (int i = 0; i < 9; ++i) ten_fields += "X-F" + std::to_string(i) + ": v\r\n";
  struct Case {
    std::string name, request;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"a 2048-byte header", padded(2048), 200, ""},
      {"a 2049-byte header", padded(2049), 431, "serve.max_header_bytes = 2048"},
      {"a 2049-byte request line", "GET /" + std::string(2049, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414,
       "serve.max_header_bytes = 2048"},
      {"10 fields", head + ten_fields + "\r\n", 200, ""},
      {"11 fields", head + ten_fields + "X-F9: v\r\n\r\n", 431,
       "more than serve.max_header_fields = 10 header fields"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto answers = parse_answers(exchange(h_->port(), c.request));
    ASSERT_EQ(answers.size(), 1u) << c.name;
    if (c.message.empty())
      EXPECT_EQ(answers[0].status, c.status) << c.name << ": " << answers[0].body;
    else
      expect_error(answers[0], c.status, c.message, c.name);
  }
  expect_healthy("the configured header limits");
}

// Pipelined requests: those before a malformed one are answered in order, the malformed one gets its
// 400 and the connection closes (nothing after it is read as a request).
TEST_F(ServeHostile, PipelinedRequestsUpToAMalformedOneAreAnsweredThenTheConnectionCloses) {
  const std::string predict =
      "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + kSecretHeaders +
      "Content-Length: " + std::to_string(one_record().size()) + "\r\n\r\n" + one_record();
  struct Case {
    std::string name, second;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"a bad field name", "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400, "a header name"},
      {"a bare LF", "GET /healthz HTTP/1.1\nHost: x\n\n", 400, "bare LF or CR"},
      {"garbage", "\x16\x03\x01\x02\x00 b0dy-s3cret\r\n\r\n", 400, "malformed HTTP request"},
      {"a smuggled second framing",
       "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n",
       400, "malformed HTTP request"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    // The third request is valid, but comes after the malformed one: it must not be answered.
    const std::string raw = exchange(h_->port(), get("/healthz") + predict + c.second + get("/healthz"));
    const auto answers = parse_answers(raw);
    ASSERT_EQ(answers.size(), 3u) << c.name << ": " << raw.substr(0, 600);
    EXPECT_EQ(answers[0].status, 200);
    EXPECT_EQ(answers[0].body, "{\"status\":\"ok\"}");
    EXPECT_EQ(answers[1].status, 200) << answers[1].body;
    EXPECT_EQ(json::parse(answers[1].body)["count"], 1);
    expect_error(answers[2], c.status, c.message, c.name);
    EXPECT_EQ(answers[2].headers.count("connection") ? answers[2].headers.at("connection") : "", "close");
    expect_no_secret(raw, c.name);
    expect_healthy(c.name);
  }
}

// Malformed multipart uploads, on both routes that take one: 400 naming what is wrong, never the
// upload's content.
TEST_F(ServeHostile, MalformedMultipartUploadsAre400SayingWhatIsWrong) {
  const std::string csv = sample_csv_rows(2, false);
  const std::string secret_csv = csv + "b0dy-s3cret\n";
  auto part = [](const std::string& boundary, const std::string& disposition, const std::string& content) {
    return "--" + boundary + "\r\nContent-Disposition: " + disposition +
           "\r\nContent-Type: text/csv\r\n\r\n" + content + "\r\n";
  };
  const std::string file = "form-data; name=\"file\"; filename=\"x.csv\"";
  const std::string b = "XyZ";
  const std::string long_b(71, 'b');
  struct Case {
    std::string name, content_type, body, message;
    std::string column{};
  };
  const std::vector<Case> cases = {
      {"no boundary", "multipart/form-data", part(b, file, secret_csv) + "--" + b + "--\r\n",
       "has no boundary parameter"},
      {"an empty boundary", "multipart/form-data; boundary=\"\"",
       part(b, file, secret_csv) + "--" + b + "--\r\n", "has no boundary parameter"},
      {"a boundary over 70 characters", "multipart/form-data; boundary=" + long_b,
       part(long_b, file, secret_csv) + "--" + long_b + "--\r\n", "longer than 70 characters"},
      {"an unterminated part", "multipart/form-data; boundary=" + b, part(b, file, secret_csv),
       "ends before its closing boundary"},
      {"part headers that never end", "multipart/form-data; boundary=" + b,
       "--" + b + "\r\nContent-Disposition: " + file + "\r\nb0dy-s3cret", "headers do not end"},
      {"no part at all", "multipart/form-data; boundary=" + b, secret_csv, "has no part"},
      {"a part with no name", "multipart/form-data; boundary=" + b,
       part(b, "form-data; filename=\"x.csv\"", secret_csv) + "--" + b + "--\r\n",
       "has no Content-Disposition name"},
      {"a part without Content-Disposition", "multipart/form-data; boundary=" + b,
       "--" + b + "\r\nContent-Type: text/csv\r\n\r\n" + secret_csv + "\r\n--" + b + "--\r\n",
       "has no Content-Disposition name"},
      {"a part that is not form-data", "multipart/form-data; boundary=" + b,
       part(b, "attachment; name=\"file\"", secret_csv) + "--" + b + "--\r\n", "is not form-data"},
      {"two files", "multipart/form-data; boundary=" + b,
       part(b, file, csv) + part(b, file, secret_csv) + "--" + b + "--\r\n", "more than one field \"file\"",
       "file"},
      {"no field file", "multipart/form-data; boundary=" + b,
       part(b, "form-data; name=\"data\"; filename=\"x.csv\"", secret_csv) + "--" + b + "--\r\n",
       "has no field \"file\"", "file"},
  };
  for (const char* path : {"/api/v1/predict/csv", "/predict"}) {
    for (const auto& c : cases) {
      const std::string name = std::string(path) + ": " + c.name;
      SCOPED_TRACE(name);
      auto res = cli_->Post(path, {{"Authorization", "Bearer test-token"}}, c.body, c.content_type);
      ASSERT_TRUE(res) << name;
      EXPECT_EQ(res->status, 400) << name << ": " << res->body;
      const json j = json::parse(res->body, nullptr, false);
      ASSERT_TRUE(j.is_object() && j.contains("error")) << name << ": " << res->body;
      EXPECT_NE(j["error"].get<std::string>().find(c.message), std::string::npos) << name << ": " << j;
      if (!c.column.empty()) {
        EXPECT_EQ(j.value("column", ""), c.column) << name;
      }
      expect_no_secret(res->body, name);
    }
    expect_healthy(path);
  }
  // The well-formed upload of the same content is scored.
  auto ok = cli_->Post("/api/v1/predict/csv", {{"Accept", "application/json"}},
                       part(b, file, csv) + "--" + b + "--\r\n", "multipart/form-data; boundary=" + b);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(json::parse(ok->body)["count"], 2);
}

// The JSON routes take application/json only; the CSV routes their own types: anything else is 415
// naming what is expected.
TEST_F(ServeHostile, WrongMediaTypesAre415NamingTheExpectedOne) {
  struct Case {
    std::string path, content_type, body, message;
  };
  const std::string one = one_record(), csv = sample_csv_rows(2, false);
  const std::vector<Case> cases = {
      {"/api/v1/predict", "", one, "expected Content-Type: application/json"},
      {"/api/v1/predict", "application/jsonx", one, "expected Content-Type: application/json"},
      {"/api/v1/predict", "text/json", one, "expected Content-Type: application/json"},
      {"/api/v1/predict", "application/x-ndjson", one, "expected Content-Type: application/json"},
      {"/api/v1/predict", "multipart/form-data; boundary=x", one, "expected Content-Type: application/json"},
      {"/api/v1/predict", "text/csv", csv, "expected Content-Type: application/json"},
      {"/api/v1/predict/csv", "", csv, "expected Content-Type text/csv or multipart/form-data"},
      {"/api/v1/predict/csv", "application/json", one,
       "expected Content-Type text/csv or multipart/form-data"},
      {"/api/v1/predict/csv", "image/png", csv, "expected Content-Type text/csv or multipart/form-data"},
      {"/predict", "text/csv", csv, "expected a multipart/form-data upload"},
      {"/predict", "", csv, "expected a multipart/form-data upload"},
  };
  for (const auto& c : cases) {
    const std::string name = c.path + " with '" + c.content_type + "'";
    SCOPED_TRACE(name);
    // Raw, so that "no Content-Type at all" is what is sent.
    const std::string request = "POST " + c.path + " HTTP/1.1\r\nHost: x\r\n" + kSecretHeaders +
                                (c.content_type.empty() ? "" : "Content-Type: " + c.content_type + "\r\n") +
                                "Content-Length: " + std::to_string(c.body.size()) + "\r\n\r\n" + c.body;
    const std::string raw = exchange(h_->port(), request);
    const auto answers = parse_answers(raw);
    ASSERT_EQ(answers.size(), 1u) << name << ": " << raw.substr(0, 300);
    expect_error(answers[0], 415, c.message, name);
    expect_no_secret(raw, name);
  }
  expect_healthy("the wrong media types");
}

// Prediction bodies that are JSON but not of the request's shape: 400 (413 over serve.max_rows)
// naming what was expected, and the record and column where there is one.
TEST_F(ServeHostile, JsonPredictBodiesOfTheWrongShapeSayWhatWasExpected) {
  const json rec = record();
  const std::string first = rec.begin().key();
  auto with = [&](const std::string& column, const json& value) {
    json r = rec;
    r[column] = value;
    return r;
  };
  std::string twice = json{{"records", json::array({rec})}}.dump();
  twice.insert(twice.size() - 3, ",\"" + first + "\":0");  // the column again, after the others
  json many = json::array();
  for (int i = 0; i < 51; ++i) many.push_back(rec);
  json rows_of_objects = json::array({json::object({{"a", 1}})});
  struct Case {
    std::string name, body;
    int status;
    std::string message;
    std::optional<std::string> column{};
    std::optional<int> row{};
  };
  const std::vector<Case> cases = {
      {"an array of scalars", "[1, 2, 3]", 400, "expected a JSON object with \"records\" or \"rows\""},
      {"a string", "\"b0dy-s3cret\"", 400, "expected a JSON object with \"records\" or \"rows\""},
      {"null", "null", 400, "expected a JSON object with \"records\" or \"rows\""},
      {"an empty object", "{}", 400, "expected exactly one of \"records\" (objects) or \"rows\" (arrays)"},
      {"records and rows", json{{"records", json::array({rec})}, {"rows", json::array()}}.dump(), 400,
       "expected exactly one of"},
      {"records twice", "{\"records\": [], \"records\": []}", 400, "expected exactly one of"},
      {"an unknown top-level field", json{{"records", json::array({rec})}, {"colour", 1}}.dump(), 400,
       "unknown field \"colour\" (expected records, rows, explain)"},
      {"records as an object", json{{"records", rec}}.dump(), 400, "\"records\" must be an array of objects"},
      {"records as a string", json{{"records", "b0dy-s3cret"}}.dump(), 400,
       "\"records\" must be an array of objects"},
      {"records of scalars", json{{"records", json::array({1, 2})}}.dump(), 400, "record 0 is not an object",
       std::nullopt, 0},
      {"records of arrays", json{{"records", json::array({json::array({1})})}}.dump(), 400,
       "record 0 is not an object", std::nullopt, 0},
      {"rows of objects", json{{"rows", rows_of_objects}}.dump(), 400,
       "row 0: expected an array of 30 values", std::nullopt, 0},
      {"rows too short", json{{"rows", json::array({json::array({1, 2})})}}.dump(), 400, "got 2 values",
       std::nullopt, 0},
      {"an empty records list", json{{"records", json::array()}}.dump(), 400, "no records to score"},
      {"an empty rows list", json{{"rows", json::array()}}.dump(), 400, "no records to score"},
      {"an extra field", json{{"records", json::array({rec, with("b0dy_extra", 1)})}}.dump(), 400,
       "record 1: unknown column 'b0dy_extra'", "b0dy_extra", 1},
      {"an object as a value", json{{"records", json::array({with(first, json::object())})}}.dump(), 400,
       "expected a number, got an object", first, 0},
      {"an array as a value", json{{"records", json::array({with(first, json::array({1}))})}}.dump(), 400,
       "expected a number, got an array", first, 0},
      {"a boolean as a value", json{{"records", json::array({with(first, false)})}}.dump(), 400,
       "expected a number, got false", first, 0},
      {"text as a value", json{{"records", json::array({with(first, "phishy")})}}.dump(), 400,
       "expected a number, got \"phishy\"", first, 0},
      {"a column twice", twice, 400, "column '" + first + "' appears twice", first, 0},
      {"explain not a boolean", json{{"records", json::array({rec})}, {"explain", 1}}.dump(), 400,
       "\"explain\" must be true or false"},
      {"51 records over serve.max_rows", json{{"records", many}}.dump(), 413,
       "the limit is serve.max_rows = 50"},
      {"truncated JSON", "{\"records\": [{\"" + first + "\": 1", 400, "invalid JSON"},
      {"trailing garbage", json{{"records", json::array({rec})}}.dump() + " b0dy-s3cret", 400,
       "invalid JSON"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto res =
        cli_->Post("/api/v1/predict", {{"Authorization", "Bearer test-token"}}, c.body, "application/json");
    ASSERT_TRUE(res) << c.name;
    EXPECT_EQ(res->status, c.status) << c.name << ": " << res->body;
    const json j = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << c.name << ": " << res->body;
    EXPECT_NE(j["error"].get<std::string>().find(c.message), std::string::npos) << c.name << ": " << j;
    if (c.column) {
      EXPECT_EQ(j.value("column", ""), *c.column) << c.name;
    }
    if (c.row) {
      EXPECT_EQ(j.value("row", -1), *c.row) << c.name;
    }
    expect_no_secret(res->body, c.name);
  }
  expect_healthy("the wrong JSON shapes");
}

}  // namespace
}  // namespace netsentry::test
