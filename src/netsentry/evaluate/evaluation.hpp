#pragma once
// Evaluation stage: scores the trained bundle, as saved, on the raw test split (so the bundle alone
// is proven to reproduce the metrics), writes metrics.json with the confusion matrix, and enforces
// the quality gate: test score >= expected_score and |train score - test score| <= threshold.
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "netsentry/config/config.hpp"
#include "netsentry/train/trainer.hpp"
#include "netsentry/transform/transformation.hpp"

namespace netsentry {

struct EvaluationArtifact {
  std::filesystem::path metrics_file;
  std::filesystem::path model_dir;  // the evaluated bundle, metrics included
  nlohmann::json test_metrics, train_metrics;
  bool accepted = false;
  std::string reason;
  nlohmann::json to_json() const;
};

// Throws GateError (after writing metrics.json) when the model fails the gate.
EvaluationArtifact run_evaluation(const PipelineConfig& cfg, const TransformationArtifact& data,
                                  const ModelTrainerArtifact& trained,
                                  const std::filesystem::path& stage_dir);

}  // namespace netsentry
