#pragma once
// The evaluation gate (TFX Evaluator style): a candidate model is "blessed" for production only if,
// on the same test split (the candidate's own, stored with its registry version), its configured
// metric reaches the expected score and beats the production model's by at least `min_improvement`.
// With no production model, reaching the expected score is enough.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netsentry/model/metrics.hpp"

namespace netsentry {

struct PipelineConfig;

struct GateConfig {
  std::string metric = "f1";     // registry.metric (default: model_trainer.metric)
  double min_improvement = 0.0;  // registry.min_improvement
  double expected_score = 0.6;   // model_trainer.expected_score
  bool auto_promote = true;      // registry.auto_promote: training promotes a candidate that passes

  // Reads the `registry:` section of config/pipeline.yaml (PipelineConfig::raw); UsageError naming a bad key.
  static GateConfig from_config(const PipelineConfig& cfg);
  nlohmann::json to_json() const;
};

struct GateDecision {
  bool passed = false;
  std::string reason;  // one sentence, printed and stored with the version
  std::string metric;
  double candidate_score = 0;
  std::optional<double> production_score;  // on the candidate's test split
  std::optional<std::string> production_version;
  double min_improvement = 0;
  double expected_score = 0;
  std::string evaluated_at;

  nlohmann::json to_json() const;
};

// The gate rule itself (pure: no files). `production` is production's metric value on the candidate's
// test split, or nullopt when there is no production model yet.
GateDecision decide(const GateConfig& cfg, double candidate, std::optional<double> production,
                    std::optional<std::string> production_version = std::nullopt);

// Loads the bundle in `bundle_dir`, scores the CSV `test_csv` and returns its metrics at the bundle's
// threshold. DataError names the file, row or column that does not fit the bundle's schema.
Metrics evaluate_bundle(const std::filesystem::path& bundle_dir, const std::filesystem::path& test_csv,
                        const std::vector<std::string>& missing_values = {"", "na", "NaN", "nan", "NA"});

}  // namespace netsentry
