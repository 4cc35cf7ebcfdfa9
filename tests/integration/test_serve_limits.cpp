// Bad requests to `netsentry serve`: every limit and every error the issue names, answered with the
// right status and a JSON error naming the column and row; none of them hurts the server.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>

#include "netsentry/serve/jobs.hpp"
#include "netsentry/table/csv.hpp"
#include "support/paths.hpp"
#include "support/serve_harness.hpp"

namespace netsentry::test {
namespace {

using nlohmann::json;

class ServeLimits : public ::testing::Test {
 protected:
  void start(std::optional<std::string> token = std::string("test-token")) {
    dir_ = tmp_ / "final_model";
    if (!std::filesystem::exists(dir_)) copy_bundle(serve_bundle('a'), dir_);
    auto opt = test_serve_options(dir_);
    opt.api_token = std::move(token);
    opt.max_rows = 50;
    opt.max_body_bytes = 64 * 1024;
    h_.reset();
    h_ = std::make_unique<ServeHarness>(opt);
    cli_ = h_->client();
  }
  void SetUp() override { start(); }

  json record() {
    Table t = parse_csv(sample_csv_rows(1, false), "sample");
    json o = json::object();
    for (const auto& c : t.columns) o[c.name] = c.num[0];
    return o;
  }

  // Posts and checks the status and the JSON error's column and row.
  json expect_error(const std::string& path, const std::string& body, const std::string& type, int status,
                    std::optional<std::string> column = std::nullopt, std::optional<int> row = std::nullopt) {
    auto res = cli_->Post(path, body, type);
    EXPECT_TRUE(res) << path;
    if (!res) return json();
    EXPECT_EQ(res->status, status) << path << ": " << res->body.substr(0, 300);
    json j = json::parse(res->body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << res->body.substr(0, 300);
    if (j.is_discarded()) return json();
    EXPECT_TRUE(j.contains("error") && j["error"].is_string()) << j;
    if (column) {
      EXPECT_EQ(j["column"], *column) << j;
    }
    if (row) {
      EXPECT_EQ(j["row"], *row) << j;
    }
    return j;
  }

  void expect_healthy() {
    auto c = h_->client();
    auto res =
        c->Post("/api/v1/predict", json{{"records", json::array({record()})}}.dump(), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  }

  TempDir tmp_;
  std::filesystem::path dir_;
  std::unique_ptr<ServeHarness> h_;
  std::unique_ptr<httplib::Client> cli_;
};

TEST_F(ServeLimits, WrongContentTypeIs415) {
  const std::string body = json{{"records", json::array({record()})}}.dump();
  expect_error("/api/v1/predict", body, "text/plain", 415);
  expect_error("/api/v1/predict", body, "application/x-www-form-urlencoded", 415);
  expect_error("/api/v1/predict/csv", body, "application/json", 415);
  expect_error("/predict", sample_csv_rows(2, false), "text/csv", 415);
  httplib::Headers auth = {{"Authorization", "Bearer test-token"}};
  auto t = cli_->Post("/api/v1/train", auth, "data=x", "application/x-www-form-urlencoded");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->status, 415);
  expect_healthy();
}

TEST_F(ServeLimits, BodyOverTheLimitIs413AndTheConnectionStillWorks) {
  std::string big = sample_csv_rows(1, false);
  while (big.size() < 100 * 1024) big += big;
  expect_error("/api/v1/predict/csv", big, "text/csv", 413);
  expect_error("/api/v1/predict", std::string(70 * 1024, ' '), "application/json", 413);
  // Same client, same keep-alive connection: the next request is answered normally.
  auto res =
      cli_->Post("/api/v1/predict", json{{"records", json::array({record()})}}.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(ServeLimits, TooManyRowsIs413) {
  json recs = json::array();
  for (int i = 0; i < 51; ++i) recs.push_back(record());
  expect_error("/api/v1/predict", json{{"records", recs}}.dump(), "application/json", 413);
  json rows = json::array();
  for (int i = 0; i < 51; ++i) rows.push_back(json(std::vector<int>(record().size(), 0)));
  expect_error("/api/v1/predict", json{{"rows", rows}}.dump(), "application/json", 413);
  std::string csv = sample_csv_rows(1, false);
  const auto line = csv.substr(csv.find('\n') + 1);
  for (int i = 0; i < 60; ++i) csv += line;
  expect_error("/api/v1/predict/csv", csv, "text/csv", 413);
  // Exactly at the limit is fine.
  recs.erase(recs.begin());
  auto ok = cli_->Post("/api/v1/predict", json{{"records", recs}}.dump(), "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(ServeLimits, UnknownAndMissingColumnsAre400NamingColumnAndRow) {
  auto r = record();
  auto unknown = r;
  unknown["favourite_colour"] = 1;
  expect_error("/api/v1/predict", json{{"records", json::array({r, unknown})}}.dump(), "application/json",
               400, "favourite_colour", 1);
  auto missing = r;
  const std::string gone = r.begin().key();
  missing.erase(gone);
  expect_error("/api/v1/predict", json{{"records", json::array({r, r, missing})}}.dump(), "application/json",
               400, gone, 2);
  // CSV: an unknown and a missing column.
  std::string csv = sample_csv_rows(3, false);
  auto nl = csv.find('\n');
  std::string extra = csv.substr(0, nl) + ",bogus";
  std::string rest = csv.substr(nl + 1), rows_extra;
  for (std::size_t p = 0, q; (q = rest.find('\n', p)) != std::string::npos; p = q + 1)
    rows_extra += rest.substr(p, q - p) + ",0\n";
  expect_error("/api/v1/predict/csv", extra + "\n" + rows_extra, "text/csv", 400, "bogus");
  Table t = parse_csv(csv, "x");
  const std::string first = t.columns[0].name;
  t.columns.erase(t.columns.begin());
  expect_error("/api/v1/predict/csv", to_csv(t), "text/csv", 400, first);
}

TEST_F(ServeLimits, NonNumericValuesAre400NamingColumnAndRow) {
  auto r = record();
  auto bad = r;
  const std::string col = std::next(r.begin(), 4).key();
  bad[col] = "abc";
  expect_error("/api/v1/predict", json{{"records", json::array({r, bad})}}.dump(), "application/json", 400,
               col, 1);
  bad[col] = json::array({1});
  expect_error("/api/v1/predict", json{{"records", json::array({bad})}}.dump(), "application/json", 400, col,
               0);
  bad[col] = true;
  expect_error("/api/v1/predict", json{{"records", json::array({bad})}}.dump(), "application/json", 400, col,
               0);
  // Numeric strings are numbers.
  auto str = r;
  str[col] = "1";
  auto ok = cli_->Post("/api/v1/predict", json{{"records", json::array({str})}}.dump(), "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  // CSV: the third data row has text in a column.
  Table t = parse_csv(sample_csv_rows(4, false), "x");
  std::string csv = to_csv(t);
  std::vector<std::string> lines;
  for (std::size_t p = 0, q; (q = csv.find('\n', p)) != std::string::npos; p = q + 1)
    lines.push_back(csv.substr(p, q - p));
  auto comma = lines[3].find(',');
  lines[3] = "phish" + lines[3].substr(comma);
  std::string edited;
  for (auto& l : lines) edited += l + "\n";
  expect_error("/api/v1/predict/csv", edited, "text/csv", 400, t.columns[0].name, 2);
}

TEST_F(ServeLimits, MalformedBodiesAre400) {
  expect_error("/api/v1/predict", "{\"records\": [", "application/json", 400);
  expect_error("/api/v1/predict", "[1,2,3]", "application/json", 400);
  expect_error("/api/v1/predict", "{}", "application/json", 400);
  expect_error("/api/v1/predict", json{{"records", json::array()}}.dump(), "application/json", 400);
  expect_error("/api/v1/predict", json{{"records", json::array({record()})}, {"rows", json::array()}}.dump(),
               "application/json", 400);
  expect_error("/api/v1/predict", json{{"records", json::array({1, 2})}}.dump(), "application/json", 400,
               std::nullopt, 0);
  expect_error("/api/v1/predict", json{{"rows", json::array({json::array({1, 2, 3})})}}.dump(),
               "application/json", 400, std::nullopt, 0);
  expect_error("/api/v1/predict", json{{"records", json::array({record()})}, {"explain", "yes"}}.dump(),
               "application/json", 400);
  expect_error("/api/v1/predict/csv", "", "text/csv", 400);
  expect_error("/api/v1/predict/csv", "a,b\n1,2,3\n", "text/csv", 400);
  expect_error("/api/v1/predict/csv", sample_csv_rows(0, false), "text/csv", 400);
  httplib::MultipartFormDataItems wrong_field = {{"data", sample_csv_rows(2, false), "x.csv", "text/csv"}};
  auto res = cli_->Post("/api/v1/predict/csv", wrong_field);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(json::parse(res->body)["column"], "file");
  expect_healthy();
}

// Sends raw bytes on a new connection and returns everything the server answers until it closes
// (or 2 s pass).
std::string raw_exchange(int port, const std::string& bytes) {
  const int fd = connect_loopback(port);
  if (fd < 0) return "";
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)!::write(fd, bytes.data(), bytes.size());
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

TEST_F(ServeLimits, ChunkedBodiesAreBoundedAndLengthlessOnesAre411) {
  // A chunked body within the limit is read and answered like any other.
  const std::string one = json{{"records", json::array({record()})}}.dump();
  auto res = cli_->Post(
      "/api/v1/predict",
      [&](size_t, httplib::DataSink& sink) {
        sink.write(one.data(), one.size());
        sink.done();
        return true;
      },
      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  // Over the limit: 413, and the same connection goes on working.
  const std::string block(16 * 1024, ' ');
  auto big = cli_->Post(
      "/api/v1/predict",
      [&](size_t, httplib::DataSink& sink) {
        for (int i = 0; i < 8; ++i) sink.write(block.data(), block.size());
        sink.done();
        return true;
      },
      "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  expect_healthy();
  auto again = cli_->Post("/api/v1/predict", one, "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  // Neither a Content-Length nor chunked: 411.
  const std::string answer =
      raw_exchange(h_->port(),
                   "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Connection: close\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 411", 0), 0u) << answer;
}

TEST_F(ServeLimits, TrainingNeedsTheBearerToken) {
  auto none = cli_->Post("/api/v1/train", "{}", "application/json");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_FALSE(none->get_header_value("WWW-Authenticate").empty());
  for (const char* h : {"Bearer wrong-token", "Bearer test-token2", "Bearer test-toke",
                        "Basic dGVzdC10b2tlbg==", "bearer test-token", "Bearer "}) {
    httplib::Headers auth = {{"Authorization", h}};
    auto r = cli_->Post("/api/v1/train", auth, "{}", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << h;
    auto legacy = cli_->Get("/train", auth);
    ASSERT_TRUE(legacy);
    EXPECT_EQ(legacy->status, 401) << h;
  }
  EXPECT_FALSE(h_->server().jobs().busy());
}

TEST_F(ServeLimits, TrainingIsRefusedWhenTheServerHasNoToken) {
  start(std::nullopt);
  httplib::Headers auth = {{"Authorization", "Bearer "}};
  for (const char* tok : {"Bearer test-token", "Bearer ", "Bearer x"}) {
    httplib::Headers a = {{"Authorization", tok}};
    auto r = cli_->Post("/api/v1/train", a, "{}", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << tok;
  }
  EXPECT_FALSE(h_->server().jobs().busy());
}

TEST_F(ServeLimits, UnknownRoutesAndJobsAre404) {
  auto a = cli_->Get("/api/v1/nothing");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 404);
  auto b = cli_->Get("/api/v1/train/0123456789abcdef", {{"Authorization", "Bearer test-token"}});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 404);
  EXPECT_TRUE(json::parse(b->body).contains("error"));
  // A job's status names its data and run folder: without the token, 401 (before any lookup).
  auto c = cli_->Get("/api/v1/train/0123456789abcdef");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 401);
}

TEST_F(ServeLimits, GarbageNeverCrashesTheServer) {
  std::mt19937 rng(1234);
  const std::string base = json{{"records", json::array({record()})}}.dump();
  const std::string csv = sample_csv_rows(5, false);
  int answered = 0;
  for (int i = 0; i < 300; ++i) {
    std::string body = (i % 2 ? base : csv);
    // Mutate: flip, cut or insert random bytes.
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const std::size_t pos = rng() % body.size();
      switch (rng() % 3) {
        case 0:
          body[pos] = static_cast<char>(rng() % 256);
          break;
        case 1:
          body.erase(pos, 1 + rng() % 16);
          break;
        default:
          body.insert(pos, 1, static_cast<char>(rng() % 256));
      }
    }
    const char* path = (i % 3 == 0) ? "/api/v1/predict" : (i % 3 == 1 ? "/api/v1/predict/csv" : "/predict");
    const char* type = (i % 2) ? "application/json" : "text/csv";
    auto res = cli_->Post(path, body, type);
    ASSERT_TRUE(res) << "no answer to request " << i;
    EXPECT_TRUE(res->status == 200 || res->status == 400 || res->status == 415) << i << ": " << res->status;
    ++answered;
  }
  EXPECT_EQ(answered, 300);
  // Raw garbage on a socket.
  for (const std::string& raw : {std::string("\x16\x03\x01\x02\x00", 5), std::string("GET\r\n\r\n"),
                                 std::string("POST /api/v1/predict HTTP/1.1\r\nContent-Length: -5\r\n\r\n"),
                                 std::string(9000, 'A') + "\r\n\r\n"}) {
    const int fd = connect_loopback(h_->port());
    ASSERT_GE(fd, 0);
    (void)!::write(fd, raw.data(), raw.size());
    ::shutdown(fd, SHUT_WR);
    char buf[512];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
    ::close(fd);
  }
  expect_healthy();
  auto h = cli_->Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

// The hostile requests of the adversarial pass, each with the status it must get: request smuggling
// (both framings, two lengths), JSON nested 100,000 deep, numbers that are not finite, a missing or
// extra column, path traversal towards files outside the embedded assets. The server stays healthy.
TEST_F(ServeLimits, HostileRequestsGetTheirStatusAndTheServerStaysHealthy) {
  const std::string one = json{{"records", json::array({record()})}}.dump();
  const std::string len = std::to_string(one.size());
  auto status_of = [](const std::string& answer) {
    return answer.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(answer.substr(9, 3)) : 0;
  };
  // Two framings, or two different lengths: refused, never read one way here and another way by a proxy.
  const std::string both =
      "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      len + "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  EXPECT_EQ(status_of(raw_exchange(h_->port(), both)), 400);
  const std::string two =
      "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      len + "\r\nContent-Length: 5\r\n\r\n" + one;
  EXPECT_EQ(status_of(raw_exchange(h_->port(), two)), 400);
  const std::string bad_chunk =
      "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\nzz\r\n" +
      one + "\r\n0\r\n\r\n";
  EXPECT_EQ(status_of(raw_exchange(h_->port(), bad_chunk)), 400);
  const std::string space_header = "GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n";
  EXPECT_EQ(status_of(raw_exchange(h_->port(), space_header)), 400);
  // 100,000 levels of nesting: a 400 from the parser's depth, not a stack overflow.
  const std::string deep = "{\"records\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  start();  // a body limit that admits it
  {
    auto res = cli_->Post("/api/v1/predict", deep, "application/json");
    ASSERT_TRUE(res);
    EXPECT_TRUE(res->status == 400 || res->status == 413) << res->status;
  }
  // Numbers that are not finite, as JSON and as CSV.
  json rec = record();
  const std::string first = rec.begin().key();
  std::string huge = json{{"records", json::array({rec})}}.dump();
  const std::string value = rec.begin().value().dump();
  huge.replace(huge.find(value), value.size(), "1e309");
  expect_error("/api/v1/predict", huge, "application/json", 400);
  std::string csv = sample_csv_rows(2, false);
  const auto line2 = csv.find('\n') + 1;
  csv.replace(line2, csv.find(',', line2) - line2, "NaNx");
  expect_error("/api/v1/predict/csv", csv, "text/csv", 400, csv.substr(0, csv.find(',')), 0);
  csv = sample_csv_rows(2, false);
  csv.replace(line2, csv.find(',', line2) - line2, "1e309");
  expect_error("/api/v1/predict/csv", csv, "text/csv", 400, csv.substr(0, csv.find(',')), 0);
  // Wrong columns.
  json missing = record();
  missing.erase(first);
  expect_error("/api/v1/predict", json{{"records", json::array({missing})}}.dump(), "application/json", 400,
               first, 0);
  // Path traversal: nothing outside the embedded assets is ever served.
  for (const char* path : {"/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/static/../../etc/passwd",
                           "/..%2f..%2fetc%2fpasswd", "/app.js/../../../etc/passwd", "//etc/passwd"}) {
    const std::string answer = raw_exchange(
        h_->port(), std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const int status = status_of(answer);
    EXPECT_TRUE(status == 404 || status == 400) << path << ": " << answer.substr(0, 200);
    EXPECT_EQ(answer.find("root:"), std::string::npos) << path;
  }
  expect_healthy();
}

}  // namespace
}  // namespace netsentry::test
