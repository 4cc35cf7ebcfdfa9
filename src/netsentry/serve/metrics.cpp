#include "netsentry/serve/metrics.hpp"

#include <fmt/format.h>

namespace netsentry::serve {

std::string_view route_name(Route r) {
  switch (r) {
    case Route::Index:
      return "/";
    case Route::Asset:
      return "/assets";
    case Route::ApiPredict:
      return "/api/v1/predict";
    case Route::ApiPredictCsv:
      return "/api/v1/predict/csv";
    case Route::ApiModel:
      return "/api/v1/model";
    case Route::ApiTrain:
      return "/api/v1/train";
    case Route::ApiTrainJob:
      return "/api/v1/train/{id}";
    case Route::Healthz:
      return "/healthz";
    case Route::Readyz:
      return "/readyz";
    case Route::Metrics:
      return "/metrics";
    case Route::OpenApi:
      return "/openapi.json";
    case Route::LegacyPredict:
      return "/predict";
    case Route::LegacyTrain:
      return "/train";
    default:
      return "other";
  }
}

void Metrics::record(Route r, int status, double seconds) {
  auto& pr = routes_[static_cast<std::size_t>(r)];
  std::size_t ci = kCodes.size() - 1;
  for (std::size_t i = 0; i + 1 < kCodes.size(); ++i)
    if (kCodes[i] == status) {
      ci = i;
      break;
    }
  pr.by_code[ci].fetch_add(1, std::memory_order_relaxed);
  std::size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  pr.buckets[b].fetch_add(1, std::memory_order_relaxed);
  pr.sum_ns.fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

namespace {
// Label values escaped as the exposition format asks (backslash, quote, newline).
std::string esc(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (c == '\\' || c == '"') o += '\\';
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o += c;
  }
  return o;
}
}  // namespace

std::string Metrics::render(std::string_view model_version, std::string_view class0, std::string_view class1,
                            std::uint64_t reloads, std::uint64_t reload_failures, bool ready) const {
  std::string o;
  o.reserve(16384);
  o += "# HELP netsentry_http_requests_total HTTP requests answered, by route and status code.\n";
  o += "# TYPE netsentry_http_requests_total counter\n";
  for (std::size_t r = 0; r < kRoutes; ++r)
    for (std::size_t c = 0; c < kCodes.size(); ++c) {
      auto n = routes_[r].by_code[c].load(std::memory_order_relaxed);
      if (n == 0) continue;
      o += fmt::format("netsentry_http_requests_total{{route=\"{}\",code=\"{}\"}} {}\n",
                       route_name(static_cast<Route>(r)),
                       kCodes[c] == 0 ? std::string("other") : std::to_string(kCodes[c]), n);
    }
  o += "# HELP netsentry_http_request_duration_seconds Time from routing to the response, by route.\n";
  o += "# TYPE netsentry_http_request_duration_seconds histogram\n";
  for (std::size_t r = 0; r < kRoutes; ++r) {
    const auto& pr = routes_[r];
    std::uint64_t total = 0;
    for (const auto& b : pr.buckets) total += b.load(std::memory_order_relaxed);
    if (total == 0) continue;
    const auto name = route_name(static_cast<Route>(r));
    std::uint64_t cum = 0;
    for (std::size_t b = 0; b < kBuckets.size(); ++b) {
      cum += pr.buckets[b].load(std::memory_order_relaxed);
      o += fmt::format("netsentry_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", name,
                       kBuckets[b], cum);
    }
    cum += pr.buckets[kBuckets.size()].load(std::memory_order_relaxed);
    o += fmt::format("netsentry_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", name,
                     cum);
    o += fmt::format("netsentry_http_request_duration_seconds_sum{{route=\"{}\"}} {:.9f}\n", name,
                     static_cast<double>(pr.sum_ns.load(std::memory_order_relaxed)) / 1e9);
    o += fmt::format("netsentry_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", name, cum);
  }
  o += "# HELP netsentry_predictions_total Rows scored, by predicted class.\n";
  o += "# TYPE netsentry_predictions_total counter\n";
  o += fmt::format("netsentry_predictions_total{{class=\"{}\"}} {}\n", esc(class0), predictions_[0].load());
  o += fmt::format("netsentry_predictions_total{{class=\"{}\"}} {}\n", esc(class1), predictions_[1].load());
  o += "# HELP netsentry_unseen_categories_total Categorical values the model never saw in training "
       "(scored as missing).\n";
  o += "# TYPE netsentry_unseen_categories_total counter\n";
  o += fmt::format("netsentry_unseen_categories_total {}\n", unseen_.load());
  o += "# HELP netsentry_model_info The model version being served (value 1).\n";
  o += "# TYPE netsentry_model_info gauge\n";
  if (!model_version.empty())
    o += fmt::format("netsentry_model_info{{version=\"{}\"}} 1\n", esc(model_version));
  o += "# HELP netsentry_model_reloads_total Successful model loads.\n# TYPE netsentry_model_reloads_total "
       "counter\n";
  o += fmt::format("netsentry_model_reloads_total {}\n", reloads);
  o += "# HELP netsentry_model_reload_failures_total Failed model loads (the old model was kept).\n";
  o += "# TYPE netsentry_model_reload_failures_total counter\n";
  o += fmt::format("netsentry_model_reload_failures_total {}\n", reload_failures);
  o += "# HELP netsentry_ready 1 when a model is loaded and predictions are served.\n# TYPE netsentry_ready "
       "gauge\n";
  o += fmt::format("netsentry_ready {}\n", ready ? 1 : 0);
  return o;
}

}  // namespace netsentry::serve
