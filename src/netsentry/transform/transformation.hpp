#pragma once
// Transformation stage: fits the preprocessor (KNN imputer, optional robust scaler) on the training
// split only, applies it to both splits, saves the fitted preprocessor as JSON.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netsentry/config/config.hpp"
#include "netsentry/transform/preprocessor.hpp"
#include "netsentry/validate/validation.hpp"

namespace netsentry {

// The transformed splits in memory, for the trainer and the evaluator of the same run.
struct TransformedData {
  Matrix train, test;  // the preprocessor's output, feature order
  Labels train_labels, test_labels;
  std::shared_ptr<const Preprocessor> preprocessor;  // fitted on the training split
  SplitData raw;                                     // the validated splits and the schema
};

struct TransformationArtifact {
  std::filesystem::path preprocessor;         // preprocessor.json
  std::filesystem::path train, test;          // transformed features + class column, CSV
  std::filesystem::path raw_train, raw_test;  // the validated (untransformed) splits
  std::vector<std::string> features;
  nlohmann::json classes;                       // LabelSpace::to_json of the target
  std::shared_ptr<const TransformedData> data;  // in memory, not in artifact.json (null: read the files)
  nlohmann::json to_json() const;
  static TransformationArtifact from_json(const nlohmann::json& j);
};

PreprocessorOptions preprocessor_options(const PipelineConfig& cfg);
// The features the schema makes categorical: listed under categorical_columns, or of a text type.
std::vector<std::string> categorical_features(const Schema& schema, const std::vector<std::string>& features);

TransformationArtifact run_transformation(const PipelineConfig& cfg, const ValidationArtifact& in,
                                          const std::filesystem::path& stage_dir);

}  // namespace netsentry
