#include "netsentry/evaluate/gate.hpp"

#include <cmath>
#include <cstdio>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/config/config.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/table/csv.hpp"

namespace netsentry {

namespace {

const char* const kMetrics[] = {"accuracy", "f1", "precision", "recall", "roc_auc"};

std::string fmt4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

}  // namespace

GateConfig GateConfig::from_config(const PipelineConfig& cfg) {
  GateConfig g;  // the values were checked when the config was loaded
  // Unset both: the threat's F1, which every model has (binary or the binary view of K classes).
  g.metric = !cfg.registry.metric.empty()        ? cfg.registry.metric
             : !cfg.model_trainer.metric.empty() ? cfg.model_trainer.metric
                                                 : "f1";
  g.expected_score = cfg.model_trainer.expected_score;
  g.min_improvement = cfg.registry.min_improvement;
  g.auto_promote = cfg.registry.auto_promote;
  return g;
}

nlohmann::json GateConfig::to_json() const {
  return {{"metric", metric},
          {"min_improvement", min_improvement},
          {"expected_score", expected_score},
          {"auto_promote", auto_promote}};
}

nlohmann::json GateDecision::to_json() const {
  nlohmann::json j = {{"passed", passed},
                      {"reason", reason},
                      {"metric", metric},
                      {"candidate_score", candidate_score},
                      {"production_score", nullptr},
                      {"production_version", nullptr},
                      {"min_improvement", min_improvement},
                      {"expected_score", expected_score},
                      {"evaluated_at", evaluated_at}};
  if (production_score) j["production_score"] = *production_score;
  if (production_version) j["production_version"] = *production_version;
  return j;
}

GateDecision decide(const GateConfig& cfg, double candidate, std::optional<double> production,
                    std::optional<std::string> production_version) {
  constexpr double kEps = 1e-12;  // metric values computed twice from the same data compare equal
  GateDecision d;
  d.metric = cfg.metric;
  d.candidate_score = candidate;
  d.production_score = production;
  d.production_version = production_version;
  d.min_improvement = cfg.min_improvement;
  d.expected_score = cfg.expected_score;
  d.evaluated_at = utc_iso8601();
  const std::string c = cfg.metric + " " + fmt4(candidate);
  if (!(candidate + kEps >= cfg.expected_score)) {
    d.passed = false;
    d.reason = c + " is below the expected score " + fmt4(cfg.expected_score);
    return d;
  }
  if (!production) {
    d.passed = true;
    d.reason = "no production model yet; " + c + " reaches the expected score " + fmt4(cfg.expected_score);
    return d;
  }
  const double diff = candidate - *production;
  const std::string p = "production " + production_version.value_or("model") + " (" + fmt4(*production) + ")";
  if (diff + kEps >= cfg.min_improvement) {
    d.passed = true;
    d.reason = c + " >= " + p + " + min_improvement " + fmt4(cfg.min_improvement) + " (difference " +
               (diff >= 0 ? "+" : "") + fmt4(diff) + ") on the candidate's test split";
  } else {
    d.passed = false;
    d.reason = c + " does not beat " + p + " by at least min_improvement " + fmt4(cfg.min_improvement) +
               " (difference " + fmt4(diff) + ") on the candidate's test split";
  }
  return d;
}

Metrics evaluate_bundle(const std::filesystem::path& bundle_dir, const std::filesystem::path& test_csv,
                        const std::vector<std::string>& missing_values) {
  ModelBundle bundle = ModelBundle::load(bundle_dir);
  CsvOptions opt;
  opt.missing_values = missing_values;
  Table t = read_csv(test_csv, opt);
  if (t.rows() == 0) throw DataError(test_csv.string() + ": the test split has no rows");
  return bundle.metrics_on(t).metrics;
}

}  // namespace netsentry
