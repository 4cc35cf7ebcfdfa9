// The HTTP layer of `netsentry serve` on the wire: Expect: 100-continue, pipelining, 405/431,
// keep-alive timeouts, the whole-request deadline and the minimum body rate (408), the connection
// cap (503), requests handled on the worker pool, and a stop that lets requests in flight finish
// within the shutdown grace. Raw sockets, so that exactly what the server sends is seen.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <utility>

#include "support/paths.hpp"
#include "support/serve_harness.hpp"

namespace netsentry::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class Conn {
 public:
  explicit Conn(int port) : fd_(connect_loopback(port)) {
    ok_ = fd_ >= 0;
    timeval tv{0, 200 * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  // False once the peer has closed (no SIGPIPE).
  bool send(const std::string& s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) >= 0; }
  // Reads until `until` appears in what was read (or the peer closes, or `limit` passes).
  std::string read_until(const std::string& until, std::chrono::milliseconds limit = 3000ms) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (!until.empty() && got_.find(until) != std::string::npos) break;
      char buf[4096];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n == 0) {
        closed_ = true;
        break;
      }
      if (n > 0) got_.append(buf, static_cast<std::size_t>(n));
    }
    return got_;
  }
  bool closed() const { return closed_; }
  // What was read so far, forgotten (the next read_until looks at what comes after).
  std::string take() { return std::exchange(got_, std::string()); }

 private:
  int fd_;
  bool ok_ = false, closed_ = false;
  std::string got_;
};

// Sends `text` on a connection `piece` bytes at a time, one piece every `every`, from its own
// thread, until the text ends, the server closes or the Trickle is destroyed.
class Trickle {
 public:
  Trickle(Conn& c, std::string text, std::size_t piece, std::chrono::milliseconds every)
      : thread_([this, &c, text = std::move(text), piece, every] {
          std::unique_lock lock(mu_);
          for (std::size_t at = 0; at < text.size() && !stop_ && c.send(text.substr(at, piece)); at += piece)
            cv_.wait_for(lock, every, [this] { return stop_; });
        }) {}
  ~Trickle() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Trickle(const Trickle&) = delete;
  Trickle& operator=(const Trickle&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

std::size_t count_of(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

class ServeHttp : public ::testing::Test {
 protected:
  void start(std::function<void(serve::ServeOptions&)> tune = nullptr) {
    dir_ = tmp_ / "final_model";
    if (!std::filesystem::exists(dir_)) copy_bundle(serve_bundle('a'), dir_);
    auto opt = test_serve_options(dir_);
    if (tune) tune(opt);
    h_.reset();
    h_ = std::make_unique<ServeHarness>(opt);
  }
  void SetUp() override { start(); }

  TempDir tmp_;
  std::filesystem::path dir_;
  std::unique_ptr<ServeHarness> h_;
};

TEST_F(ServeHttp, ExpectContinueIsAnsweredBeforeTheBodyIsSent) {
  const std::string csv = sample_csv_rows(3, false);
  Conn c(h_->port());
  ASSERT_TRUE(c.ok());
  c.send(
      "POST /api/v1/predict/csv HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nAccept: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(csv.size()) + "\r\n\r\n");
  const std::string interim = c.read_until("\r\n\r\n");
  ASSERT_EQ(interim.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << interim;
  c.send(csv);
  const std::string all = c.read_until("\"count\":3");
  EXPECT_NE(all.find("HTTP/1.1 200 OK"), std::string::npos) << all;
  // Over the limit: refused at once, without the 100.
  Conn big(h_->port());
  big.send(
      "POST /api/v1/predict/csv HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nExpect: 100-continue\r\n"
      "Content-Length: 999999999\r\n\r\n");
  const std::string refused = big.read_until("}");
  EXPECT_EQ(refused.rfind("HTTP/1.1 413", 0), 0u) << refused;
}

TEST_F(ServeHttp, PipelinedRequestsAreAnsweredInOrderOnOneConnection) {
  const std::string one = json{{"rows", json::array({json(std::vector<int>(30, 1))})}}.dump();
  Conn c(h_->port());
  c.send(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(one.size()) + "\r\n\r\n" + one +
      "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string all = c.read_until("");
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(count_of(all, "HTTP/1.1 200 OK"), 3u) << all;
  const auto a = all.find("{\"status\":\"ok\"}"), b = all.find("\"predictions\""), r = all.find("\"ready\"");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(r, std::string::npos);
  EXPECT_LT(a, b);
  EXPECT_LT(b, r);
}

TEST_F(ServeHttp, WrongMethodIs405WithAllowAndOversizedHeaderIs431) {
  Conn c(h_->port());
  c.send("DELETE /api/v1/predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string del = c.read_until("");
  EXPECT_EQ(del.rfind("HTTP/1.1 405", 0), 0u) << del;
  EXPECT_NE(del.find("Allow: POST"), std::string::npos) << del;
  EXPECT_NE(del.find("\"error\":\"method not allowed on this path (allowed: POST)\""), std::string::npos)
      << del;
  Conn h(h_->port());
  h.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(40000, 'a') + "\r\n\r\n");
  const std::string big = h.read_until("");
  EXPECT_EQ(big.rfind("HTTP/1.1 431", 0), 0u) << big.substr(0, 200);
  EXPECT_TRUE(h.closed());
}

TEST_F(ServeHttp, IdleKeepAliveConnectionsAreClosedAfterTheTimeout) {
  start([](serve::ServeOptions& o) { o.keep_alive_timeout_seconds = 1; });
  Conn c(h_->port());
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(c.read_until("{\"status\":\"ok\"}").find("200 OK"), std::string::npos);
  const auto t0 = std::chrono::steady_clock::now();
  c.read_until("", 4000ms);
  EXPECT_TRUE(c.closed());
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GT(waited, 700ms);
  EXPECT_LT(waited, 2500ms);
}

// Three places a prediction can run: on the event loop (no explanations), on the loop with its
// explanations deferred to the worker pool (12 rows x ~0.3 ms estimated: over the 2 ms kept on a loop), and
// wholly on the pool (a body over inline_body_bytes). The answers are the same.
TEST_F(ServeHttp, RequestsOnTheWorkerPoolAnswerAsOnTheEventLoops) {
  const std::string csv = sample_csv_rows(12, false);
  auto ask = [&](const char* path) {
    auto c = h_->client();
    auto r = c->Post(path, {{"Accept", "application/json"}}, csv, "text/csv");
    EXPECT_TRUE(r);
    if (!r) return std::string();
    EXPECT_EQ(r->status, 200) << r->body;
    auto j = json::parse(r->body);
    j.erase("model_version");
    return j.dump();
  };
  const std::string plain = ask("/api/v1/predict/csv?explain=false");
  const std::string explained = ask("/api/v1/predict/csv");
  EXPECT_NE(plain.find("\"count\":12"), std::string::npos);
  EXPECT_EQ(plain.find("\"reasons\""), std::string::npos);
  EXPECT_NE(explained.find("\"reasons\""), std::string::npos) << explained.substr(0, 300);
  start([](serve::ServeOptions& o) {
    o.inline_body_bytes = 0;  // every request with a body goes to the pool
    o.workers = 3;
    o.threads = 1;
  });
  EXPECT_EQ(ask("/api/v1/predict/csv?explain=false"), plain);
  EXPECT_EQ(ask("/api/v1/predict/csv"), explained);
  // Many at once over one event loop and the pool.
  std::vector<std::thread> ts;
  std::atomic<int> same{0};
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&, i] {
      for (int k = 0; k < 5; ++k)
        same += (i % 2 ? ask("/api/v1/predict/csv") == explained
                       : ask("/api/v1/predict/csv?explain=false") == plain);
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(same.load(), 40);
}

TEST_F(ServeHttp, StopLetsARequestInFlightFinishAndRefusesNewConnections) {
  const std::string csv = sample_csv_rows(5, false);
  Conn c(h_->port());
  Conn idle(h_->port());
  c.send(
      "POST /api/v1/predict/csv HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nAccept: application/json\r\n"
      "Content-Length: " +
      std::to_string(csv.size()) + "\r\n\r\n" + csv.substr(0, 10));
  std::this_thread::sleep_for(100ms);
  h_->server().stop();
  std::this_thread::sleep_for(300ms);
  c.send(csv.substr(10));
  const std::string all = c.read_until("");
  EXPECT_NE(all.find("HTTP/1.1 200 OK"), std::string::npos) << all;
  EXPECT_NE(all.find("\"count\":5"), std::string::npos) << all;
  EXPECT_NE(all.find("Connection: close"), std::string::npos) << all;
  EXPECT_TRUE(c.closed());
  idle.read_until("", 2000ms);
  EXPECT_TRUE(idle.closed());  // an idle connection is closed by the stop
  Conn late(h_->port());
  EXPECT_FALSE(late.ok());
  h_.reset();  // run() has returned: the harness joins it
}

using Clock = std::chrono::steady_clock;

const std::string kPredictHeader =
    "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ";

// One byte of a body every 0.5 s renews the 1 s read timeout every time, but not the whole-request
// deadline: the request is answered 408 at about 3 s, and the connection closed.
TEST_F(ServeHttp, ABodyTrickledByteByByteIsCutOffAtTheWholeRequestDeadline) {
  start([](serve::ServeOptions& o) {
    o.read_timeout_seconds = 1;
    o.request_timeout_seconds = 3;
    o.min_body_bytes_per_second = 0;  // the deadline alone
  });
  Conn c(h_->port());
  ASSERT_TRUE(c.ok());
  const auto t0 = Clock::now();
  c.send(kPredictHeader + "1000\r\n\r\n");
  Trickle body(c, std::string(1000, ' '), 1, 500ms);
  const std::string got = c.read_until("", 10000ms);
  const auto took = Clock::now() - t0;
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  EXPECT_NE(got.find("request not received within serve.request_timeout_seconds = 3 s"), std::string::npos)
      << got;
  EXPECT_TRUE(c.closed());
  EXPECT_GT(took, 2500ms);  // the 1 s read timeout did not end it
  EXPECT_LT(took, 5000ms);
}

// A header trickled byte by byte is bounded by the same deadline, from its first byte.
TEST_F(ServeHttp, AHeaderTrickledByteByByteIsCutOffAtTheWholeRequestDeadline) {
  start([](serve::ServeOptions& o) {
    o.read_timeout_seconds = 1;
    o.request_timeout_seconds = 3;
  });
  Conn c(h_->port());
  ASSERT_TRUE(c.ok());
  const auto t0 = Clock::now();
  Trickle header(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(100, 'a') + "\r\n\r\n", 1,
                 500ms);
  const std::string got = c.read_until("", 10000ms);
  const auto took = Clock::now() - t0;
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
  EXPECT_NE(got.find("serve.request_timeout_seconds = 3 s"), std::string::npos) << got;
  EXPECT_TRUE(c.closed());
  EXPECT_GT(took, 2500ms);
  EXPECT_LT(took, 5000ms);
}

// 100 bytes every 0.5 s of an announced 100000: under the minimum rate of 1000 bytes per second once
// the read timeout's grace is over, long before the whole-request deadline.
TEST_F(ServeHttp, ABodyBelowTheMinimumRateIsCutOff) {
  start([](serve::ServeOptions& o) {
    o.read_timeout_seconds = 1;
    o.request_timeout_seconds = 60;
    o.min_body_bytes_per_second = 1000;
  });
  Conn c(h_->port());
  ASSERT_TRUE(c.ok());
  const auto t0 = Clock::now();
  c.send(kPredictHeader + "100000\r\n\r\n");
  Trickle body(c, std::string(100000, ' '), 100, 500ms);
  const std::string got = c.read_until("", 10000ms);
  const auto took = Clock::now() - t0;
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
  EXPECT_NE(got.find("request body slower than serve.min_body_bytes_per_second = 1000"), std::string::npos)
      << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  EXPECT_TRUE(c.closed());
  EXPECT_GT(took, 700ms);  // not before the grace
  EXPECT_LT(took, 4000ms);
}

// The same limits let a large upload sent at full speed through, several at once.
TEST_F(ServeHttp, LargeUploadsAtFullSpeedAreNotCutOff) {
  start([](serve::ServeOptions& o) {
    o.read_timeout_seconds = 1;
    o.request_timeout_seconds = 3;
    o.min_body_bytes_per_second = 1000;
    o.max_rows = 5000;
    o.max_body_bytes = 4 << 20;
  });
  const std::string csv = sample_csv_rows(3000, false);
  ASSERT_GT(csv.size(), 200000u);
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      auto c = h_->client();
      for (int k = 0; k < 2; ++k) {
        auto r =
            c->Post("/api/v1/predict/csv?explain=false", {{"Accept", "application/json"}}, csv, "text/csv");
        ok += r && r->status == 200 && r->body.find("\"count\":3000") != std::string::npos;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 8);
}

// Over max_connections a connection is answered 503 with Retry-After and closed; the admitted ones
// go on working, and once one closes a new connection is served again.
TEST_F(ServeHttp, ConnectionsOverTheCapAre503) {
  start([](serve::ServeOptions& o) { o.max_connections = 2; });
  const std::string health = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  auto a = std::make_unique<Conn>(h_->port());
  Conn b(h_->port());
  for (Conn* c : {a.get(), &b}) {
    ASSERT_TRUE(c->ok());
    c->send(health);
    EXPECT_NE(c->read_until("{\"status\":\"ok\"}").find("HTTP/1.1 200 OK"), std::string::npos);
    c->take();
  }
  Conn over(h_->port());
  ASSERT_TRUE(over.ok());
  over.send(health);
  const std::string refused = over.read_until("", 5000ms);
  EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused;
  EXPECT_NE(refused.find("serve.max_connections = 2"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Connection: close"), std::string::npos) << refused;
  EXPECT_TRUE(over.closed());
  // The admitted connections are untouched.
  b.send(health);
  EXPECT_NE(b.read_until("{\"status\":\"ok\"}").find("HTTP/1.1 200 OK"), std::string::npos);
  b.take();
  // One closes: its place is free once the server has seen it go (asked again until then).
  a.reset();
  bool served = false;
  for (const auto end = Clock::now() + 5s; !served && Clock::now() < end;) {
    Conn c(h_->port());
    c.send(health);
    served = c.read_until("}").rfind("HTTP/1.1 200 OK", 0) == 0;
    if (!served) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(served);
}

// Five requests whose bodies trickle in: stop() lets them go on for the shutdown grace (2 s), then
// closes them, and run() returns.
TEST_F(ServeHttp, StopClosesWhatIsStillOpenAfterTheShutdownGrace) {
  start([](serve::ServeOptions& o) {
    o.read_timeout_seconds = 10;
    o.request_timeout_seconds = 60;
    o.min_body_bytes_per_second = 0;
    o.shutdown_grace_seconds = 2;
  });
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<std::unique_ptr<Trickle>> bodies;
  for (int i = 0; i < 5; ++i) {
    conns.push_back(std::make_unique<Conn>(h_->port()));
    ASSERT_TRUE(conns.back()->ok());
    conns.back()->send(kPredictHeader + "1000\r\n\r\n");
    bodies.push_back(std::make_unique<Trickle>(*conns.back(), std::string(1000, ' '), 1, 500ms));
  }
  std::this_thread::sleep_for(300ms);
  const auto t0 = Clock::now();
  h_->server().stop();
  while (h_->server().running() && Clock::now() - t0 < 10s) std::this_thread::sleep_for(20ms);
  const auto took = Clock::now() - t0;
  EXPECT_FALSE(h_->server().running());
  EXPECT_GT(took, 1500ms);  // the requests had their grace
  EXPECT_LT(took, 4000ms);
  for (auto& c : conns) {
    c->read_until("", 2000ms);
    EXPECT_TRUE(c->closed());
  }
  bodies.clear();
  h_.reset();
}

}  // namespace
}  // namespace netsentry::test
