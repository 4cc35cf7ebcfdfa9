#include "netsentry/ingest/ingestion.hpp"

#include <spdlog/spdlog.h>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/ingest/source.hpp"
#include "netsentry/ingest/split.hpp"
#include "netsentry/schema/check.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/schema/schema.hpp"
#include "netsentry/table/csv.hpp"

namespace netsentry {

using json = nlohmann::json;

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(IngestionArtifact, feature_store, train, test, source,
                                                data_sha256, rows, train_rows, test_rows, split)

json IngestionArtifact::to_json() const { return *this; }
IngestionArtifact IngestionArtifact::from_json(const json& j) { return j.get<IngestionArtifact>(); }

SplitData SplitData::or_read(const PipelineConfig& cfg, const fs::path& train_csv,
                             const fs::path& test_csv) const {
  if (in_memory()) return *this;
  SplitData d;
  d.schema = std::make_shared<const Schema>(Schema::load_yaml(cfg.resolve(cfg.validation.schema_file)));
  CsvOptions co;
  co.missing_values = cfg.data.missing_values;
  d.train = std::make_shared<const Table>(read_csv(train_csv, co));
  d.test = std::make_shared<const Table>(read_csv(test_csv, co));
  return d;
}

IngestionArtifact run_ingestion(const PipelineConfig& cfg, const std::string& source_uri,
                                const fs::path& stage_dir) {
  auto source = open_source(source_uri);
  auto schema_ptr =
      std::make_shared<const Schema>(Schema::load_yaml(cfg.resolve(cfg.validation.schema_file)));
  const Schema& schema = *schema_ptr;
  SourceOptions so;
  so.missing_values = cfg.data.missing_values;
  so.drop_columns = cfg.data.drop_columns;
  so.schema = &schema;
  so.header = cfg.data.header;
  Table t = source->read(so);
  const std::string where = source->describe();
  if (t.cols() == 0) throw DataError(where + ": no columns");
  if (t.rows() == 0) throw DataError(where + ": no data rows (header only)");
  // The source must match the schema before anything is split: problems name the source and its rows.
  if (auto problems = check_against_schema(t, schema); !problems.empty()) {
    std::string all;
    for (auto& p : problems) all += "\n  - " + p;
    throw DataError(where + " does not match the schema " + cfg.resolve(cfg.validation.schema_file).string() +
                    ":" + all);
  }
  if (!t.find(cfg.data.target))
    throw DataError(where + ": target column '" + cfg.data.target +
                    "' is missing (columns: " + std::to_string(t.cols()) + ")");
  const Labels y = map_labels(t, cfg.data.target, cfg.data.label_mapping);
  std::size_t ones = static_cast<std::size_t>(std::count(y.begin(), y.end(), 1));
  if (ones == 0 || ones == y.size())
    throw DataError(where + ": target column '" + cfg.data.target + "' has a single class (" +
                    std::to_string(y.size()) + " rows of class " + std::to_string(y[0]) +
                    "); at least two are needed");

  IngestionArtifact a;
  a.source = redact_uri(where);
  a.split = cfg.ingestion.split;
  a.feature_store = stage_dir / "feature_store" / cfg.ingestion.feature_store_file;
  a.train = stage_dir / "ingested" / cfg.ingestion.train_file;
  a.test = stage_dir / "ingested" / cfg.ingestion.test_file;
  const std::string csv = to_csv(t);
  write_file_atomic(a.feature_store, csv);
  a.data_sha256 = sha256_hex(csv);

  SplitIndices s;
  if (cfg.ingestion.split == "duplicate_aware") {
    std::vector<std::string> features;
    for (auto& c : t.columns)
      if (c.name != cfg.data.target && c.type == ColumnType::Numeric) features.push_back(c.name);
    s = duplicate_aware_split(t.to_matrix(features), y, cfg.ingestion.test_ratio, cfg.pipeline.seed);
  } else {
    s = stratified_split(y, cfg.ingestion.test_ratio, cfg.pipeline.seed);
  }
  // The splits as the later stages would read them back from the files (named by them in messages).
  auto train = std::make_shared<Table>(t.take_rows(s.train));
  auto test = std::make_shared<Table>(t.take_rows(s.test));
  write_csv_atomic(a.train, *train);
  write_csv_atomic(a.test, *test);
  train->source = a.train.string();
  test->source = a.test.string();
  a.data = {schema_ptr, std::move(train), std::move(test)};
  a.rows = t.rows();
  a.train_rows = s.train.size();
  a.test_rows = s.test.size();
  write_file_atomic(stage_dir / "artifact.json", a.to_json().dump(2));
  spdlog::info("ingest: {} rows from {} -> train {} / test {} ({} split)", a.rows, a.source, a.train_rows,
               a.test_rows, a.split);
  return a;
}

}  // namespace netsentry
