#pragma once
// Ingestion stage: source -> feature store CSV -> train/test split: seeded and stratified
// (ingestion.split: random), duplicate-aware, by time (the latest rows test), or none when a separate
// evaluation set is given (every row of the source trains, every row of the test source tests).
// The splits keep naming the user's source and its rows in messages (Table::source, Table::origin).
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
  // This data when it is in memory, else stage_schema(cfg) and the split files read back; their
  // messages then name the split file and the source that the ingestion stage's artifact.json (beside
  // the split files' folder) records.
  SplitData or_read(const PipelineConfig& cfg, const std::filesystem::path& train_csv,
                    const std::filesystem::path& test_csv) const;
};

// The data.* keys that define the classes.
LabelSpec label_spec(const DataSettings& d);

struct IngestionArtifact {
  std::filesystem::path feature_store, train, test;
  std::string source;       // the source URI, credentials redacted
  std::string test_source;  // the separate evaluation set's URI, redacted; empty: `source` was split
  std::string data_sha256;
  std::string test_data_sha256;  // of the test source's rows as written to `test` (with test_source)
  std::size_t rows = 0, train_rows = 0, test_rows = 0;
  std::string split = "random";  // random | duplicate_aware | time | test_source
  std::string time_column;       // split "time": the column that ordered the rows (not a feature)
  nlohmann::json classes;        // LabelSpace::to_json
  // A file read without a header row (data.header: false): its columns in order, the schema file's
  // (kept in the bundle, so that `predict --no-header` reads files of the same layout); else empty.
  std::vector<std::string> file_columns;
  SplitData data;  // in memory, not in artifact.json
  nlohmann::json to_json() const;
  static IngestionArtifact from_json(const nlohmann::json& j);
};

// The schema the stages check the data against: the schema file's without data.drop_columns and,
// with ingestion.split: time, without the time column (the splits hold neither; the file may list
// them or not).
Schema stage_schema(const PipelineConfig& cfg);

// `source`: a CSV path or a URI (sqlite:…, mongodb://…); `test_source` the same for a separate
// evaluation set (empty: `source` is split as ingestion.split says). Writes into `stage_dir`
// (feature_store/<file>, ingested/train.csv, ingested/test.csv, artifact.json). Throws DataError
// naming the source, the row and the column on data that does not fit the schema.
IngestionArtifact run_ingestion(const PipelineConfig& cfg, const std::string& source,
                                const std::filesystem::path& stage_dir, const std::string& test_source = "");

}  // namespace netsentry
