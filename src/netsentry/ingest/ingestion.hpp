#pragma once
// Ingestion stage: source -> feature store CSV -> seeded stratified train/test split.
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "netsentry/config/config.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/schema/schema.hpp"
#include "netsentry/table/table.hpp"

namespace netsentry {

// What the stages of one run hand each other in memory: the schema (parsed once) and the two splits
// as ingested. The files the stages write are the run's record; the stage commands (`validate`,
// `transform`), which have only a run folder, read the same data back from them.
struct SplitData {
  std::shared_ptr<const Schema> schema;
  std::shared_ptr<const Table> train, test;
  std::shared_ptr<const LabelSpace> labels;  // the target's classes, derived from the training side
  bool in_memory() const { return schema && train && test && labels; }
  // This data when it is in memory, else the schema of the config and the split files read back.
  SplitData or_read(const PipelineConfig& cfg, const std::filesystem::path& train_csv,
                    const std::filesystem::path& test_csv) const;
};

// The data.* keys that define the classes.
LabelSpec label_spec(const DataSettings& d);

struct IngestionArtifact {
  std::filesystem::path feature_store, train, test;
  std::string source;  // the source URI, credentials redacted
  std::string data_sha256;
  std::size_t rows = 0, train_rows = 0, test_rows = 0;
  std::string split = "random";
  nlohmann::json classes;  // LabelSpace::to_json
  SplitData data;          // in memory, not in artifact.json
  nlohmann::json to_json() const;
  static IngestionArtifact from_json(const nlohmann::json& j);
};

// `source`: a CSV path or a URI (sqlite:…, mongodb://…). Writes into `stage_dir`
// (feature_store/<file>, ingested/train.csv, ingested/test.csv, artifact.json).
IngestionArtifact run_ingestion(const PipelineConfig& cfg, const std::string& source,
                                const std::filesystem::path& stage_dir);

}  // namespace netsentry
