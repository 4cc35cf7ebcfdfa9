#pragma once
// Validation stage: schema checks on the train and test splits, duplicate count, and a per-column
// two-sample KS drift report (train vs test) in the reference shape {column: {p_value, drift_status}}.
// Invalid data stops the run (DataError naming file, column and row).
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netsentry/config/config.hpp"
#include "netsentry/ingest/ingestion.hpp"
#include "netsentry/schema/schema.hpp"
#include "netsentry/table/table.hpp"

namespace netsentry {

struct ValidationArtifact {
  bool status = false;  // true: valid (drift alone does not fail unless validation.fail_on_drift)
  bool drift_detected = false;
  std::filesystem::path train, test;  // validated splits (the ingested files, checked)
  std::filesystem::path report_yaml, report_json;
  std::size_t duplicate_rows = 0;
  std::vector<std::string> messages;
  SplitData data;  // the validated splits in memory (from the ingestion artifact), not in artifact.json
  nlohmann::json to_json() const;
  static ValidationArtifact from_json(const nlohmann::json& j);
};

ValidationArtifact run_validation(const PipelineConfig& cfg, const IngestionArtifact& in,
                                  const std::filesystem::path& stage_dir);

}  // namespace netsentry
