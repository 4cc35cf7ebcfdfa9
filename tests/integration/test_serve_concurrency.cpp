// Many clients at once, a model directory replaced under load (hot reload), a failed reload, slow
// clients: not one request may fail, and each is answered by a whole model, old or new.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/serve/model_store.hpp"
#include "netsentry/table/csv.hpp"
#include "support/paths.hpp"
#include "support/serve_harness.hpp"

namespace netsentry::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json sample_records(std::size_t n) {
  Table t = parse_csv(sample_csv_rows(n, false), "sample");
  json recs = json::array();
  for (std::size_t r = 0; r < t.rows(); ++r) {
    json o = json::object();
    for (const auto& c : t.columns) o[c.name] = c.num[r];
    recs.push_back(o);
  }
  return recs;
}

std::string model_version(httplib::Client& c) {
  auto r = c.Get("/api/v1/model");
  if (!r || r->status != 200) return "";
  return json::parse(r->body)["version"].get<std::string>();
}

template <class Pred>
bool eventually(Pred p, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (p()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return p();
}

TEST(ServeConcurrency, ManyClientsAndAHotReloadInTheMiddleFailNoRequest) {
  TempDir tmp;
  const auto dir = tmp / "final_model";
  copy_bundle(serve_bundle('a'), dir);
  const std::string va = ModelBundle::load(serve_bundle('a')).version();
  const std::string vb = ModelBundle::load(serve_bundle('b')).version();
  ASSERT_NE(va, vb) << "the two test bundles must have different versions";
  ServeHarness h(test_serve_options(dir));

  const std::string one = json{{"records", sample_records(1)}}.dump();
  const std::string twenty = json{{"records", sample_records(20)}}.dump();
  const std::string csv = sample_csv_rows(50, true);
  constexpr int kClients = 12;
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::mutex mu;
  std::set<std::string> versions;
  std::vector<std::string> failures;
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t)
    clients.emplace_back([&, t] {
      auto c = h.client();
      c->set_keep_alive(true);
      std::set<std::string> seen;
      for (int i = 0; !stop.load(); ++i) {
        auto send = [&]() {
          switch ((i + t) % 3) {
            case 0:
              return c->Post("/api/v1/predict", one, "application/json");
            case 1:
              return c->Post("/api/v1/predict", twenty, "application/json");
            default:
              return c->Post("/api/v1/predict/csv", csv, "text/csv");
          }
        };
        auto r = send();
        if (r && r->status == 200) {
          ++ok;
          seen.insert(r->get_header_value("X-Model-Version"));
        } else {
          ++failed;
          std::lock_guard lock(mu);
          failures.push_back(r ? std::to_string(r->status) + " " + r->body.substr(0, 200)
                               : httplib::to_string(r.error()));
        }
      }
      std::lock_guard lock(mu);
      versions.insert(seen.begin(), seen.end());
    });

  std::this_thread::sleep_for(1500ms);
  const int before_reload = ok.load();
  // A new bundle is published: the watcher notices the replaced directory and swaps it in.
  replace_bundle(serve_bundle('b'), dir);
  auto c = h.client();
  EXPECT_TRUE(eventually([&] { return model_version(*c) == vb; })) << "the new model was not swapped in";
  std::this_thread::sleep_for(500ms);
  // And a forced reload (what SIGHUP does) under load as well.
  std::string error;
  EXPECT_TRUE(h.server().reload(&error)) << error;
  std::this_thread::sleep_for(1000ms);
  stop = true;
  for (auto& t : clients) t.join();

  EXPECT_EQ(failed.load(), 0) << (failures.empty() ? "" : failures.front());
  EXPECT_GT(before_reload, 0);
  EXPECT_GT(ok.load(), before_reload);
  EXPECT_TRUE(versions.count(va)) << "no answer from the first model";
  EXPECT_TRUE(versions.count(vb)) << "no answer from the new model";
  EXPECT_EQ(versions.size(), 2u);
  EXPECT_EQ(model_version(*c), vb);
  EXPECT_GE(h.server().models().reloads(), 3u);
}

TEST(ServeConcurrency, AFailedReloadKeepsTheOldModel) {
  TempDir tmp;
  const auto dir = tmp / "final_model";
  copy_bundle(serve_bundle('a'), dir);
  const std::string va = ModelBundle::load(serve_bundle('a')).version();
  ServeHarness h(test_serve_options(dir));
  auto c = h.client();
  ASSERT_EQ(model_version(*c), va);

  // A broken bundle replaces the directory: metadata.json is not JSON.
  const auto broken = tmp / "broken";
  copy_bundle(serve_bundle('b'), broken);
  { std::ofstream(broken / "metadata.json", std::ios::trunc) << "{ not json"; }
  replace_bundle(broken, dir);
  EXPECT_TRUE(eventually([&] { return h.server().models().reload_failures() >= 1; }));
  EXPECT_EQ(model_version(*c), va);
  auto p = c->Post("/api/v1/predict", json{{"records", sample_records(3)}}.dump(), "application/json");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 200);
  auto m = c->Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body.find("netsentry_model_reload_failures_total 0"), std::string::npos);
  std::string error;
  EXPECT_FALSE(h.server().reload(&error));
  EXPECT_NE(error.find("metadata.json"), std::string::npos) << error;

  // A good bundle afterwards is picked up.
  replace_bundle(serve_bundle('b'), dir);
  const std::string vb = ModelBundle::load(serve_bundle('b')).version();
  EXPECT_TRUE(eventually([&] { return model_version(*c) == vb; }));
}

TEST(ServeConcurrency, SlowAndIdleClientsDoNotBlockOthers) {
  TempDir tmp;
  const auto dir = tmp / "final_model";
  copy_bundle(serve_bundle('a'), dir);
  auto opt = test_serve_options(dir);
  opt.threads = 16;
  opt.read_timeout_seconds = 60;  // the stalled clients are held for the whole test
  ServeHarness h(opt);
  // Eight connections that send half a request and stall.
  std::vector<int> stalled;
  for (int i = 0; i < 8; ++i) {
    const int fd = connect_loopback(h.port());
    ASSERT_GE(fd, 0);
    const std::string half = "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"rec";
    (void)!::write(fd, half.data(), half.size());
    stalled.push_back(fd);
  }
  const std::string one = json{{"records", sample_records(1)}}.dump();
  auto c = h.client();  // its read timeout (30 s) is under the stalled clients' 60 s
  for (int i = 0; i < 50; ++i) {
    auto r = c->Post("/api/v1/predict", one, "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
  }
  // Every stalled connection is still open (the server neither answered nor closed it): the 50
  // requests were answered while all eight stalled, not after the server gave up on them.
  for (int fd : stalled) {
    char b;
    const auto n = ::recv(fd, &b, 1, MSG_DONTWAIT);
    EXPECT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) << "recv returned " << n;
  }
  for (int fd : stalled) ::close(fd);
}

}  // namespace
}  // namespace netsentry::test
