#pragma once
// Transformation stage: fits the preprocessor (KNN imputer, optional robust scaler) on the training
// split only, applies it to both splits, saves the fitted preprocessor as JSON.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netsentry/config/config.hpp"
#include "netsentry/transform/preprocessor.hpp"
#include "netsentry/validate/validation.hpp"

namespace netsentry {

struct TransformationArtifact {
  std::filesystem::path preprocessor;         // preprocessor.json
  std::filesystem::path train, test;          // transformed features + class column, CSV
  std::filesystem::path raw_train, raw_test;  // the validated (untransformed) splits
  std::vector<std::string> features;
  nlohmann::json to_json() const;
  static TransformationArtifact from_json(const nlohmann::json& j);
};

PreprocessorOptions preprocessor_options(const PipelineConfig& cfg);

TransformationArtifact run_transformation(const PipelineConfig& cfg, const ValidationArtifact& in,
                                          const std::filesystem::path& stage_dir);

}  // namespace netsentry
