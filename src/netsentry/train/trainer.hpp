#pragma once
// Model trainer stage: the model factory. Cross-validated search over the configured families and
// grids on the training split, the best candidate (by CV score, never by test score) refit on the
// whole training split, its decision threshold chosen on out-of-fold predictions, and a bundle.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/config/config.hpp"
#include "netsentry/ingest/ingestion.hpp"
#include "netsentry/transform/transformation.hpp"

namespace netsentry {

struct ModelTrainerArtifact {
  std::filesystem::path model_dir;   // the trained bundle (not yet evaluated)
  std::filesystem::path candidates;  // candidates.json: every candidate's CV mean ± std and fit time
  std::string family;
  nlohmann::json params;
  std::string metric;  // the CV selection metric (TrainerSettings::metric_for), also the gate's
  double cv_score = 0;
  double threshold = 0.5;
  nlohmann::json train_metrics = nlohmann::json::object();
  nlohmann::json candidate_table;  // same content as candidates.json
  // The bundle saved in model_dir, in memory for the evaluator of the same run (not in artifact.json).
  std::shared_ptr<ModelBundle> bundle;
  nlohmann::json to_json() const;
  static ModelTrainerArtifact from_json(const nlohmann::json& j);
};

using ProgressFn = std::function<void(std::size_t done, std::size_t total)>;

ModelTrainerArtifact run_model_trainer(const PipelineConfig& cfg, const IngestionArtifact& ingestion,
                                       const TransformationArtifact& in,
                                       const std::filesystem::path& stage_dir,
                                       const ProgressFn& progress = {});

// Decision threshold from out-of-fold probabilities. strategy: "fixed" (value), "max_f1",
// "max_fpr" (the lowest threshold whose false-positive rate <= max_fpr; positives = class 1).
double choose_threshold(const Labels& y, const std::vector<double>& p, const ThresholdSettings& spec);

}  // namespace netsentry
