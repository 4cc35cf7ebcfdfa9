#pragma once
// Server metrics in the Prometheus text format: request counts by route and status, latency
// histograms by route, predictions by class, model reloads. Lock-free counters: recording a request
// costs a few relaxed atomic increments.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace netsentry::serve {

enum class Route : int {
  Index,
  Asset,
  ApiPredict,
  ApiPredictCsv,
  ApiModel,
  ApiTrain,
  ApiTrainJob,
  Healthz,
  Readyz,
  Metrics,
  OpenApi,
  LegacyPredict,
  LegacyTrain,
  Other,
  kCount
};
std::string_view route_name(Route r);

class Metrics {
 public:
  static constexpr std::array<double, 16> kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};
  static constexpr std::array<int, 19> kCodes = {200, 202, 204, 400, 401, 404, 405, 408, 409, 411,
                                                 413, 414, 415, 431, 500, 501, 503, 505, 0 /* other */};

  void record(Route r, int status, double seconds);
  void count_predictions(int cls, std::uint64_t n) {
    predictions_[cls == 0 ? 0 : 1].fetch_add(n, std::memory_order_relaxed);
  }
  void count_unseen(std::uint64_t n) { unseen_.fetch_add(n, std::memory_order_relaxed); }
  // Prometheus exposition text. Model labels come from the caller (they change with reloads).
  std::string render(std::string_view model_version, std::string_view class0, std::string_view class1,
                     std::uint64_t reloads, std::uint64_t reload_failures, bool ready) const;

 private:
  static constexpr std::size_t kRoutes = static_cast<std::size_t>(Route::kCount);
  struct PerRoute {
    std::array<std::atomic<std::uint64_t>, kCodes.size()> by_code{};
    std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> buckets{};  // last = +Inf
    std::atomic<std::uint64_t> sum_ns{0};
  };
  std::array<PerRoute, kRoutes> routes_{};
  std::array<std::atomic<std::uint64_t>, 2> predictions_{};
  std::atomic<std::uint64_t> unseen_{0};  // categorical values the model never saw
};

}  // namespace netsentry::serve
