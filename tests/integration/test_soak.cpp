// A short soak of `netsentry serve` (the long one is bench/soak.sh): valid requests from a few client
// threads (one-record predictions, 1,000-row CSV uploads, /healthz, /metrics) while the model
// directory is replaced every 1.5 s, the way the registry publishes, by the other valid bundle, and
// once by a bundle whose model file is corrupt. No valid request fails; the bad bundle is refused
// (the old model keeps serving) and counted; /metrics counts every swap and the refusal.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "netsentry/core/fs.hpp"
#include "netsentry/serve/model_store.hpp"
#include "netsentry/table/csv.hpp"
#include "support/paths.hpp"
#include "support/serve_harness.hpp"

namespace netsentry::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string version_of(const fs::path& bundle) {
  return json::parse(std::ifstream(bundle / "metadata.json"))["version"].get<std::string>();
}

// The value of an unlabelled metric in Prometheus text, or -1.
long long metric(const std::string& text, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\n" + name + " ([0-9]+)\n"))) return -1;
  return std::stoll(m[1]);
}

TEST(Soak, HotReloadsUnderLoadFailNoValidRequestAndABadBundleIsRefusedAndCounted) {
  TempDir tmp;
  const fs::path dir = tmp / "final_model", bad = tmp / "bad_model";
  copy_bundle(serve_bundle('a'), dir);
  // A bundle whose metadata is intact and whose model file is not a model.
  copy_bundle(serve_bundle('a'), bad);
  std::size_t corrupted = 0;
  for (const auto& e : fs::recursive_directory_iterator(bad / "model"))
    if (e.is_regular_file()) {
      std::ofstream(e.path(), std::ios::trunc) << "this is not a model \x01\x02\x03";
      ++corrupted;
    }
  ASSERT_GT(corrupted, 0u);
  const std::string va = version_of(serve_bundle('a')), vb = version_of(serve_bundle('b'));
  ASSERT_NE(va, vb);

  auto opt = test_serve_options(dir);
  opt.max_rows = 1000;
  opt.max_body_bytes = 4 << 20;
  opt.reload_poll = 100ms;
  ServeHarness h(opt);
  auto& store = h.server().models();
  ASSERT_EQ(store.reloads(), 1u);

  const std::string csv = sample_csv_rows(1000, false);
  Table one = parse_csv(sample_csv_rows(1, false), "sample");
  json rec = json::object();
  for (const auto& c : one.columns) rec[c.name] = c.num[0];
  const std::string one_record = json{{"records", json::array({rec})}}.dump();

  std::atomic<bool> stop{false};
  std::atomic<long> sent{0}, failed{0};
  std::mutex mu;
  std::string first_failure;
  auto client = [&](int id) {
    auto c = h.client();
    for (long i = id; !stop && i < 1'000'000; ++i) {
      std::string what;
      int expect_count = 0;
      httplib::Result r = [&] {
        switch (i % 20) {
          case 0:
            what = "CSV upload";
            expect_count = 1000;
            return c->Post("/api/v1/predict/csv", {{"Accept", "application/json"}}, csv, "text/csv");
          case 1:
            what = "/metrics";
            return c->Get("/metrics");
          case 2:
          case 3:
          case 4:
            what = "/healthz";
            return c->Get("/healthz");
          default:
            what = "predict";
            expect_count = 1;
            return c->Post("/api/v1/predict", one_record, "application/json");
        }
      }();
      ++sent;
      bool ok = r && r->status == 200;
      if (ok && expect_count) {
        const json j = json::parse(r->body, nullptr, false);
        ok = j.is_object() && j.value("count", 0) == expect_count;
      }
      if (!ok) {
        ++failed;
        std::lock_guard lock(mu);
        if (first_failure.empty())
          first_failure = what + ": " +
                          (r ? std::to_string(r->status) + " " + r->body.substr(0, 200)
                             : "no answer (" + httplib::to_string(r.error()) + ")");
      }
      std::this_thread::sleep_for(1ms);  // a modest load: the point is the reloads under it
    }
  };
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) clients.emplace_back(client, t);

  // 12 publishes, 1.5 s apart: the other valid bundle each time, the corrupt one as the 6th.
  int good = 0, refused = 0;
  std::string serving = va;
  for (int k = 1; k <= 12; ++k) {
    const auto period_end = std::chrono::steady_clock::now() + 1500ms;
    const bool is_bad = k == 6;
    const fs::path& from = is_bad ? bad : (serving == va ? serve_bundle('b') : serve_bundle('a'));
    const std::string expect_version = is_bad ? serving : version_of(from);
    const auto before = store.reloads() + store.reload_failures();
    const fs::path staged = tmp / ("staged_" + std::to_string(k));
    copy_bundle(from, staged);
    publish_dir(staged, dir);
    // The watcher tries the new directory (a generous bound; it polls every 100 ms).
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (store.reloads() + store.reload_failures() == before && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    ASSERT_GT(store.reloads() + store.reload_failures(), before) << "publish " << k << " was never tried";
    auto current = store.current();
    ASSERT_TRUE(current);
    EXPECT_EQ(current->version, expect_version) << "publish " << k;
    auto ready = h.client()->Get("/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(json::parse(ready->body)["model_version"], expect_version) << "publish " << k;
    (is_bad ? refused : good) += 1;
    serving = expect_version;
    std::this_thread::sleep_until(period_end);
  }
  stop = true;
  for (auto& t : clients) t.join();

  EXPECT_EQ(failed.load(), 0) << "of " << sent.load() << " valid requests; the first: " << first_failure;
  EXPECT_GT(sent.load(), 300) << "the clients hardly ran";
  EXPECT_EQ(good, 11);
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(store.reloads(), 1u + static_cast<unsigned>(good));
  EXPECT_EQ(store.reload_failures(), static_cast<unsigned>(refused));
  // /metrics says the same, and counts no answer other than 200.
  auto m = h.client()->Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(metric(m->body, "netsentry_model_reloads_total"), 1 + good) << m->body;
  EXPECT_EQ(metric(m->body, "netsentry_model_reload_failures_total"), refused) << m->body;
  const std::regex codes(R"re(netsentry_http_requests_total\{route="([^"]+)",code="([^"]+)"\} ([0-9]+))re");
  long long answered = 0;
  for (std::sregex_iterator it(m->body.begin(), m->body.end(), codes), end; it != end; ++it) {
    EXPECT_EQ((*it)[2], "200") << (*it)[0];
    answered += std::stoll((*it)[3]);
  }
  EXPECT_GE(answered, sent.load());
}

}  // namespace
}  // namespace netsentry::test
