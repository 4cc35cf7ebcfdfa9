#include "netsentry/ingest/ingestion.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/ingest/source.hpp"
#include "netsentry/ingest/split.hpp"
#include "netsentry/schema/check.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/schema/schema.hpp"
#include "netsentry/table/csv.hpp"
#include "netsentry/table/time_text.hpp"

namespace netsentry {

using json = nlohmann::json;

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(IngestionArtifact, feature_store, train, test, source,
                                                test_source, data_sha256, test_data_sha256, rows, train_rows,
                                                test_rows, split, time_column, classes, file_columns)

json IngestionArtifact::to_json() const { return *this; }
IngestionArtifact IngestionArtifact::from_json(const json& j) { return j.get<IngestionArtifact>(); }

LabelSpec label_spec(const DataSettings& d) {
  return {d.label_mapping, d.label_groups, d.positive_class, d.benign_classes};
}

Schema stage_schema(const PipelineConfig& cfg) {
  std::vector<std::string> gone = cfg.data.drop_columns;
  if (cfg.ingestion.split == "time") gone.push_back(cfg.ingestion.time_column);
  return Schema::load_yaml(cfg.resolve(cfg.validation.schema_file)).without(gone);
}

SplitData SplitData::or_read(const PipelineConfig& cfg, const fs::path& train_csv,
                             const fs::path& test_csv) const {
  if (in_memory()) return *this;
  SplitData d;
  d.schema = std::make_shared<const Schema>(stage_schema(cfg));
  CsvOptions co;
  co.missing_values = cfg.data.missing_values;
  auto train = std::make_shared<Table>(read_csv(train_csv, co));
  auto test = std::make_shared<Table>(read_csv(test_csv, co));
  // The rows' origin in the user's data is not in the files: messages name the split file, and the
  // source it came from. A separate evaluation set is the test source's rows as they were, in order.
  const fs::path artifact = train_csv.parent_path().parent_path() / "artifact.json";
  if (fs::exists(artifact)) {
    const auto in = IngestionArtifact::from_json(json::parse(read_file(artifact)));
    if (!in.test_source.empty()) {
      for (auto& [t, src] : {std::pair{train.get(), in.source}, std::pair{test.get(), in.test_source}}) {
        t->source = src;
        t->lines_before.reset();  // the data rows are the source's; its lines may differ
      }
    } else if (!in.source.empty()) {
      train->source += " (the training split of " + in.source + ")";
      test->source += " (the test split of " + in.source + ")";
    }
  }
  d.train = std::move(train);
  d.test = std::move(test);
  d.labels =
      std::make_shared<const LabelSpace>(LabelSpace::derive(label_spec(cfg.data), *d.train, cfg.data.target));
  return d;
}

namespace {

// The file name of the feature store: ingestion.feature_store_file, else the source's name
// (<file stem>.csv, <table>.csv, <collection>.csv) made safe for a file name.
std::string feature_store_name(const PipelineConfig& cfg, const std::string& source_name) {
  if (!cfg.ingestion.feature_store_file.empty()) return cfg.ingestion.feature_store_file;
  std::string n = source_name;
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' && c != '+') c = '_';
  if (n.empty() || n.front() == '.') n = "data" + n;
  return n + ".csv";
}

// One source read and checked: its table fits the stage schema (the time column taken out of it).
struct ReadSource {
  Table table;
  std::string where;  // the source, credentials redacted (names it in every message)
  std::string name;   // Source::name
  std::optional<std::pair<std::size_t, Column>> time;  // the time column and where it was
  std::vector<double> times;                           // its values, when asked for
};

// With `need_times`, the time column must be there and hold a time on every row (DataError naming the
// source, the row and the column).
ReadSource read_source(const PipelineConfig& cfg, const std::string& uri, const Schema& file_schema,
                       const Schema& schema, bool need_times) {
  auto source = open_source(uri);
  SourceOptions so;
  so.missing_values = cfg.data.missing_values;
  so.drop_columns = cfg.data.drop_columns;
  so.schema = &file_schema;
  so.header = cfg.data.header;
  so.max_file_bytes = cfg.data.max_file_bytes;
  ReadSource r;
  r.table = source->read(so);
  r.where = redact_uri(source->describe());
  r.name = source->name();
  Table& t = r.table;
  t.source = r.where;
  if (t.cols() == 0) throw DataError(r.where + ": no columns");
  if (t.rows() == 0) throw DataError(r.where + ": no data rows (header only)");
  if (need_times) r.times = time_values(t, cfg.ingestion.time_column);
  if (cfg.ingestion.split == "time")
    if (auto i = t.find(cfg.ingestion.time_column)) {
      r.time.emplace(*i, std::move(t.columns[*i]));
      t.columns.erase(t.columns.begin() + static_cast<std::ptrdiff_t>(*i));
    }
  // The source must match the schema before anything is split: problems name the source and its rows.
  if (auto problems = check_against_schema(t, schema); !problems.empty()) {
    std::string all;
    for (auto& p : problems) all += "\n  - " + p;
    throw DataError(r.where + " does not match the schema " +
                    cfg.resolve(cfg.validation.schema_file).string() + ":" + all);
  }
  if (!t.find(cfg.data.target))
    throw DataError(r.where + ": target column '" + cfg.data.target +
                    "' is missing (columns: " + std::to_string(t.cols()) + ")");
  return r;
}

}  // namespace

IngestionArtifact run_ingestion(const PipelineConfig& cfg, const std::string& source_uri,
                                const fs::path& stage_dir, const std::string& test_source_uri) {
  const Schema file_schema = Schema::load_yaml(cfg.resolve(cfg.validation.schema_file));
  auto schema_ptr = std::make_shared<const Schema>(stage_schema(cfg));
  const bool separate = !test_source_uri.empty();
  const bool by_time = cfg.ingestion.split == "time" && !separate;
  ReadSource main = read_source(cfg, source_uri, file_schema, *schema_ptr, by_time);
  Table& t = main.table;
  const std::string& where = main.where;
  // The classes come from the training side (the whole source when it is split).
  auto labels =
      std::make_shared<const LabelSpace>(LabelSpace::derive(label_spec(cfg.data), t, cfg.data.target));
  const Labels y = labels->labels(t, cfg.data.target);
  if (!y.empty() && std::all_of(y.begin(), y.end(), [&](int c) { return c == y.front(); }))
    throw DataError(where + ": target column '" + cfg.data.target + "' has a single class (" +
                    std::to_string(y.size()) + " rows of class '" + labels->name(y.front()) +
                    "'); at least two are needed");
  std::optional<ReadSource> test_read;
  if (separate) {
    test_read = read_source(cfg, test_source_uri, file_schema, *schema_ptr, false);
    // A later period may hold labels no class knows: counted by validation, left out of the metrics.
    const auto enc = labels->encode(test_read->table, cfg.data.target, true);
    std::set<int> present(enc.y.begin(), enc.y.end());
    present.erase(-1);
    const std::size_t known = enc.y.size() - enc.unmapped;
    if (present.size() < 2)
      spdlog::warn("ingest: the test source {} holds a single class ({} rows)", test_read->where, known);
  }

  IngestionArtifact a;
  a.source = where;
  a.test_source = separate ? test_read->where : "";
  a.split = separate ? "test_source" : cfg.ingestion.split;
  if (!cfg.data.header) a.file_columns = file_schema.names();
  a.time_column = by_time ? cfg.ingestion.time_column : "";
  a.feature_store = stage_dir / "feature_store" / feature_store_name(cfg, main.name);
  a.train = stage_dir / "ingested" / cfg.ingestion.train_file;
  a.test = stage_dir / "ingested" / cfg.ingestion.test_file;
  // The feature store holds the source as read, the time column in its place.
  if (main.time)
    t.columns.insert(t.columns.begin() + static_cast<std::ptrdiff_t>(main.time->first),
                     std::move(main.time->second));
  const std::string csv = to_csv(t);
  if (main.time) {
    main.time->second = std::move(t.columns[main.time->first]);
    t.columns.erase(t.columns.begin() + static_cast<std::ptrdiff_t>(main.time->first));
  }
  write_file_atomic(a.feature_store, csv);
  a.data_sha256 = sha256_hex(csv);
  a.rows = t.rows();

  // The splits name the user's source and its rows in messages (Table::source, Table::origin).
  std::shared_ptr<Table> train, test;
  std::string how;
  if (separate) {
    train = std::make_shared<Table>(std::move(t));
    test = std::make_shared<Table>(std::move(test_read->table));
    how = "a separate evaluation set: every row of " + where + " trains, every row of " + a.test_source +
          " tests";
    if (cfg.ingestion.split == "time")
      how += "; ingestion.split: time is not used with a separate evaluation set";
  } else {
    SplitIndices s;
    if (cfg.ingestion.split == "duplicate_aware") {
      std::vector<std::string> features;  // every feature, text ones compared by value
      for (auto& c : t.columns)
        if (c.name != cfg.data.target) features.push_back(c.name);
      s = duplicate_aware_split(t.to_key_matrix(features), y, cfg.ingestion.test_ratio, cfg.pipeline.seed);
      how = "duplicate-aware stratified split, test_ratio " + format_number(cfg.ingestion.test_ratio);
    } else if (by_time) {
      s = time_split(main.times, cfg.ingestion.test_ratio);
      how = "time split on '" + cfg.ingestion.time_column + "', the latest " +
            format_number(cfg.ingestion.test_ratio) + " of the rows testing";
      if (!s.train.empty() && !s.test.empty())
        how += ": training " + main.time->second.text_at(s.train.front()) + " .. " +
               main.time->second.text_at(s.train.back()) + ", test " +
               main.time->second.text_at(s.test.front()) + " .. " + main.time->second.text_at(s.test.back());
    } else {
      s = stratified_split(y, cfg.ingestion.test_ratio, cfg.pipeline.seed);
      how = "random stratified split, test_ratio " + format_number(cfg.ingestion.test_ratio);
    }
    if (s.train.empty() || s.test.empty())
      throw DataError(where + ": " + std::to_string(t.rows()) + " rows are too few to split (" + how + ")");
    train = std::make_shared<Table>(t.take_rows(s.train));
    test = std::make_shared<Table>(t.take_rows(s.test));
  }
  write_csv_atomic(a.train, *train);
  if (separate) {
    const std::string test_csv = to_csv(*test);
    write_file_atomic(a.test, test_csv);
    a.test_data_sha256 = sha256_hex(test_csv);
  } else {
    write_csv_atomic(a.test, *test);
  }
  a.train_rows = train->rows();
  a.test_rows = test->rows();
  a.classes = labels->to_json();
  a.data = {schema_ptr, std::move(train), std::move(test), labels};
  write_file_atomic(stage_dir / "artifact.json", a.to_json().dump(2));
  spdlog::info("ingest: {} rows from {} -> train {} / test {} ({}); classes {} (threat: {})", a.rows,
               a.source, a.train_rows, a.test_rows, how, a.classes["classes"].dump(),
               a.classes["threat_classes"].dump());
  return a;
}

}  // namespace netsentry
