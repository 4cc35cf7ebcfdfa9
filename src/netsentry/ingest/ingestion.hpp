#pragma once
// Ingestion stage: source -> feature store CSV -> seeded stratified train/test split.
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "netsentry/config/config.hpp"

namespace netsentry {

struct IngestionArtifact {
  std::filesystem::path feature_store, train, test;
  std::string source;  // the source URI, credentials redacted
  std::string data_sha256;
  std::size_t rows = 0, train_rows = 0, test_rows = 0;
  std::string split;
  nlohmann::json to_json() const;
  static IngestionArtifact from_json(const nlohmann::json& j);
};

// `source`: a CSV path or a URI (sqlite:…, mongodb://…). Writes into `stage_dir`
// (feature_store/<file>, ingested/train.csv, ingested/test.csv, artifact.json).
IngestionArtifact run_ingestion(const PipelineConfig& cfg, const std::string& source,
                                const std::filesystem::path& stage_dir);

}  // namespace netsentry
