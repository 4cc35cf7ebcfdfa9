#pragma once
// The pipeline configuration (config/pipeline.yaml): the reference project's constants and more.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace netsentry {

struct PipelineConfig {
  std::filesystem::path
      config_path;  // where it was loaded from; relative paths resolve against its project root

  // pipeline
  std::string artifact_dir = "artifacts";
  std::string model_dir = "final_model";  // where an accepted model is published
  std::uint64_t seed = 42;
  // data
  std::string source = "demo";
  std::size_t demo_rows = 11055;
  std::string target = "Result";
  std::map<std::string, int> label_mapping = {{"-1", 0}, {"1", 1}};
  std::vector<std::string> drop_columns = {"_id"};
  std::vector<std::string> missing_values = {"", "na", "NaN", "nan", "NA"};
  // ingestion
  std::string feature_store_file = "phisingData.csv";
  std::string train_file = "train.csv";
  std::string test_file = "test.csv";
  double test_ratio = 0.2;
  bool stratify = true;
  std::string split = "random";  // random | duplicate_aware
  // validation
  std::string schema_file = "config/schema/phishing.yaml";
  double drift_p_value = 0.05;
  bool fail_on_drift = false;
  // transformation
  int knn_neighbors = 3;
  std::string knn_weights = "uniform";
  std::string scaler = "none";   // none | robust
  std::string sampler = "none";  // none | smote
  int smote_k = 5;
  // model trainer
  double expected_score = 0.6;
  double overfitting_threshold = 0.05;
  int cv_folds = 3;
  std::string metric = "f1";
  std::string search = "grid";
  double halving_factor = 3;         // successive halving keeps 1/factor of the fits per stage
  bool collapse_duplicates = false;  // fit identical (row, label) pairs as one weighted row
  nlohmann::json families = nlohmann::json::object();  // family name -> {param: [values]}
  nlohmann::json raw;                                  // the whole file, for stages with extra keys

  // Loads and checks a config file; throws UsageError naming the key on a bad value.
  static PipelineConfig load(const std::filesystem::path& path);
  // Resolves a path from the config against the directory that holds config/ (the project root).
  std::filesystem::path resolve(const std::string& p) const;
  nlohmann::json to_json() const;
};

}  // namespace netsentry
