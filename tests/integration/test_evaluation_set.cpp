// A separate evaluation set (`train --test-data`, data.test_source), the time split (ingestion.split:
// time), messages that name the user's file and row, the feature store named after the source, and
// data.drop_columns listed in the schema or not: `netsentry` run as a real process on the UCI file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "netsentry/core/fs.hpp"
#include "netsentry/table/csv.hpp"
#include "netsentry/validate/ks.hpp"
#include "support/paths.hpp"
#include "support/table_equal.hpp"

using namespace netsentry;
using namespace netsentry::test;
using json = nlohmann::json;

namespace {

std::string q(const std::filesystem::path& p) { return shell_quote(p.string()); }

void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

// The UCI file's lines: the header, then its data rows (all of them when n is 0).
std::vector<std::string> uci_lines(std::size_t n = 0) {
  std::ifstream in(phishing_csv());
  std::vector<std::string> lines;
  for (std::string l; (n == 0 || lines.size() < n) && std::getline(in, l);)
    if (!l.empty()) lines.push_back(l);
  return lines;
}

std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (auto& l : lines) s += l + "\n";
  return s;
}

std::vector<std::string> data_lines(const std::filesystem::path& csv) {
  std::ifstream in(csv);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// A config with one fast family (2-fold CV, logistic regression); `data` and `ingestion` are extra
// entries of those sections ("key: value, ..."), `schema` the schema file (default: the phishing one).
std::filesystem::path small_config(const TempDir& dir, const std::string& name, const std::string& data = "",
                                   const std::string& ingestion = "", std::filesystem::path schema = {}) {
  if (schema.empty()) schema = source_dir() / "config/schema/phishing.yaml";
  const auto path = dir / (name + ".yaml");
  write(path,
        "pipeline: {artifact_dir: artifacts, random_seed: 42}\n"
        "data: {target_column: Result" +
            (data.empty() ? "" : ", " + data) + "}\n" +
            (ingestion.empty() ? "" : "ingestion: {" + ingestion + "}\n") +
            "validation: {schema_file: " + schema.string() +
            "}\n"
            "model_trainer:\n  expected_score: 0.6\n  overfitting_threshold: 0.2\n  cv_folds: 2\n"
            "  metric: f1\n  search: grid\n  families:\n    logistic_regression: {}\n");
  return path;
}

struct Run {
  CommandResult r;
  json summary;
};

// `train --json --registry none` with `config`, into `dir` (`quiet`: warnings and errors alone).
Run train(const TempDir& dir, const std::filesystem::path& config, const std::string& args,
          bool quiet = true) {
  Run t;
  t.r = run_cli(std::string(quiet ? "-q " : "") + "--config " + q(config) + " train --json " + args +
                " --artifact-dir " + q(dir / "artifacts") + " --model-dir " + q(dir / "final_model") +
                " --registry none");
  if (t.r.exit_code == 0) t.summary = json::parse(t.r.out);
  return t;
}

// A UTC time as ISO-8601 text, in one of two spellings.
std::string iso(std::time_t t, bool with_zone) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, with_zone ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace

TEST(EvaluationSet, TrainsOnOneFileAndTestsOnTheOtherWithTheDriftReportAgainstIt) {
  NETSENTRY_NEEDS_UCI();
  TempDir dir;
  const auto lines = uci_lines();
  const std::size_t n = lines.size() - 1, n_train = n * 8 / 10, n_test = n - n_train;
  std::vector<std::string> early(lines.begin(), lines.begin() + 1 + static_cast<std::ptrdiff_t>(n_train));
  std::vector<std::string> late = {lines[0]};
  late.insert(late.end(), lines.begin() + 1 + static_cast<std::ptrdiff_t>(n_train), lines.end());
  const auto early_csv = dir / "phishing_early.csv", late_csv = dir / "phishing_late.csv";
  write(early_csv, join(early));
  write(late_csv, join(late));

  auto t = train(dir, small_config(dir, "small"), "--data " + q(early_csv) + " --test-data " + q(late_csv));
  ASSERT_EQ(t.r.exit_code, 0) << t.r.err;
  const auto& s = t.summary;
  EXPECT_EQ(s["split"], "test_source");
  EXPECT_EQ(s["source"], early_csv.string());
  EXPECT_EQ(s["test_source"], late_csv.string());
  EXPECT_EQ(s["rows"]["train"].get<std::size_t>(), n_train);
  EXPECT_EQ(s["rows"]["test"].get<std::size_t>(), n_test);
  const auto& cm = s["confusion_matrix"];  // the model was scored on the second file's rows
  EXPECT_EQ(cm["tn"].get<std::size_t>() + cm["fp"].get<std::size_t>() + cm["fn"].get<std::size_t>() +
                cm["tp"].get<std::size_t>(),
            n_test);

  // The splits are the two files, every row of each.
  const std::filesystem::path run = s["run_dir"].get<std::string>();
  const Table early_t = read_csv(early_csv), late_t = read_csv(late_csv);
  EXPECT_TRUE(tables_equal(read_csv(run / "data_ingestion/ingested/train.csv"), early_t));
  EXPECT_TRUE(tables_equal(read_csv(run / "data_ingestion/ingested/test.csv"), late_t));
  EXPECT_TRUE(std::filesystem::exists(run / "data_ingestion/feature_store/phishing_early.csv"));

  // The drift report compares the training file with the evaluation file, column by column.
  const auto report = json::parse(read_file(run / "data_validation/drift_report/report.json"));
  ASSERT_EQ(report["columns"].size(), early_t.cols());
  for (const auto& c : early_t.columns) {
    const auto ks = ks_2samp(c.num, late_t.at(c.name).num);
    EXPECT_DOUBLE_EQ(report["columns"][c.name]["statistic"].get<double>(), ks.statistic) << c.name;
    EXPECT_DOUBLE_EQ(report["columns"][c.name]["p_value"].get<double>(), ks.p_value) << c.name;
  }

  // The artifact, run.json and the bundle record the evaluation set.
  const auto artifact = json::parse(read_file(run / "data_ingestion/artifact.json"));
  EXPECT_EQ(artifact["test_source"], late_csv.string());
  EXPECT_EQ(artifact["split"], "test_source");
  EXPECT_EQ(artifact["test_data_sha256"].get<std::string>().size(), 64u);
  const auto run_json = json::parse(read_file(run / "run.json"));
  EXPECT_EQ(run_json["test_source"], late_csv.string());
  EXPECT_EQ(run_json["summary"]["test_source"], late_csv.string());
  const auto meta = json::parse(read_file(dir / "final_model/metadata.json"));
  EXPECT_EQ(meta["test_source"], late_csv.string());
  EXPECT_EQ(meta["source"], early_csv.string());
  EXPECT_EQ(meta["split"], "test_source");

  // The stage commands: `ingest --test-data`, then `validate` and `transform` read the run back.
  auto a = run_cli("-q --config " + q(small_config(dir, "small")) + " ingest --data " + q(early_csv) +
                   " --test-data " + q(late_csv) + " --artifact-dir " + q(dir / "stages"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const auto ingested = json::parse(a.out);
  EXPECT_EQ(ingested["artifact"]["test_source"], late_csv.string());
  EXPECT_EQ(ingested["artifact"]["test_rows"].get<std::size_t>(), n_test);
  const std::string stage_run = ingested["run_dir"];
  auto v = run_cli("-q --config " + q(small_config(dir, "small")) + " validate --run-dir " +
                   shell_quote(stage_run));
  ASSERT_EQ(v.exit_code, 0) << v.err;
  const auto stage_report =
      json::parse(read_file(std::filesystem::path(stage_run) / "data_validation/drift_report/report.json"));
  EXPECT_EQ(stage_report["columns"], report["columns"]);
}

TEST(EvaluationSet, TimeSplitTestsOnTheLatestShareOfThePeriod) {
  NETSENTRY_NEEDS_UCI();
  TempDir dir;
  const auto lines = uci_lines();
  const std::size_t n = lines.size() - 1;
  // A timestamp per row, out of file order, two rows per minute (ties), in two ISO-8601 spellings, as
  // the first column.
  const std::time_t base = 1714521600;  // 2024-05-01T00:00:00Z
  std::vector<long> minute(n);
  std::vector<std::string> with_time = {"seen_at," + lines[0]};
  for (std::size_t i = 0; i < n; ++i) {
    minute[i] = static_cast<long>((i * 7919) % n) / 2;
    with_time.push_back(iso(base + minute[i] * 60, i % 2 == 0) + "," + lines[i + 1]);
  }
  const auto data = dir / "timed.csv";
  write(data, join(with_time));

  auto t = train(dir, small_config(dir, "time", "", "split: time, time_column: seen_at, test_ratio: 0.2"),
                 "--data " + q(data), false);
  ASSERT_EQ(t.r.exit_code, 0) << t.r.err;
  EXPECT_EQ(t.summary["split"], "time");
  EXPECT_EQ(t.summary["time_column"], "seen_at");
  EXPECT_NE(t.r.err.find("time split on 'seen_at'"), std::string::npos) << t.r.err;  // the log says so

  // The latest round(0.2 n) rows by time (file order among equal times) test, in time order; the
  // splits lack the time column.
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return minute[a] < minute[b]; });
  const auto n_test = static_cast<std::size_t>(std::llround(0.2 * static_cast<double>(n)));
  const std::filesystem::path run = t.summary["run_dir"].get<std::string>();
  const auto test_lines = data_lines(run / "data_ingestion/ingested/test.csv");
  const auto train_lines = data_lines(run / "data_ingestion/ingested/train.csv");
  ASSERT_EQ(test_lines.size(), n_test + 1);
  ASSERT_EQ(train_lines.size(), n - n_test + 1);
  EXPECT_EQ(test_lines[0], lines[0]);
  for (std::size_t k = 0; k < n_test; ++k)
    ASSERT_EQ(test_lines[k + 1], lines[order[n - n_test + k] + 1]) << "test row " << k;
  for (std::size_t k = 0; k < n - n_test; ++k)
    ASSERT_EQ(train_lines[k + 1], lines[order[k] + 1]) << "training row " << k;
  EXPECT_LE(minute[order[n - n_test - 1]], minute[order[n - n_test]]);

  // The time column is no feature; the feature store keeps the data as read.
  const auto meta = json::parse(read_file(dir / "final_model/metadata.json"));
  const auto features = meta["features"].get<std::vector<std::string>>();
  EXPECT_EQ(features.size(), 30u);
  EXPECT_EQ(std::count(features.begin(), features.end(), "seen_at"), 0);
  EXPECT_EQ(meta["split"], "time");
  const auto store = data_lines(run / "data_ingestion/feature_store/timed.csv");
  ASSERT_EQ(store.size(), n + 1);
  EXPECT_EQ(store[0], with_time[0]);
  EXPECT_EQ(store[1], with_time[1]);
}

TEST(EvaluationSet, TimeSplitErrorsNameTheKeyOrTheFileRowAndColumn) {
  NETSENTRY_NEEDS_UCI();
  TempDir dir;
  auto lines = uci_lines(301);
  std::vector<std::string> timed = {"seen_at," + lines[0]};
  for (std::size_t i = 1; i < lines.size(); ++i)
    timed.push_back((i == 37 ? std::string("soon") : iso(1714521600 + static_cast<long>(i) * 60, true)) +
                    "," + lines[i]);
  const auto data = dir / "timed.csv";
  write(data, join(timed));
  const auto time_cfg = small_config(dir, "time", "", "split: time, time_column: seen_at");

  auto bad_value = train(dir, time_cfg, "--data " + q(data));
  EXPECT_EQ(bad_value.r.exit_code, 3) << bad_value.r.err;
  EXPECT_NE(bad_value.r.err.find(data.string() + ": data row 37 (line 38), column 'seen_at'"),
            std::string::npos)
      << bad_value.r.err;
  EXPECT_NE(bad_value.r.err.find("'soon'"), std::string::npos) << bad_value.r.err;

  auto absent =
      train(dir, small_config(dir, "when", "", "split: time, time_column: when"), "--data " + q(data));
  EXPECT_EQ(absent.r.exit_code, 3) << absent.r.err;
  EXPECT_NE(absent.r.err.find(data.string() + ": time column 'when' is missing"), std::string::npos)
      << absent.r.err;

  auto no_column = train(dir, small_config(dir, "nocol", "", "split: time"), "--data " + q(data));
  EXPECT_EQ(no_column.r.exit_code, 2) << no_column.r.err;
  EXPECT_NE(no_column.r.err.find("ingestion.time_column"), std::string::npos) << no_column.r.err;

  auto ratio = train(dir, small_config(dir, "ratio", "", "split: time, time_column: seen_at, test_ratio: 1"),
                     "--data " + q(data));
  EXPECT_EQ(ratio.r.exit_code, 2) << ratio.r.err;
  EXPECT_NE(ratio.r.err.find("ingestion.test_ratio"), std::string::npos) << ratio.r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "final_model"));
}

TEST(EvaluationSet, DataErrorsNameTheUsersFileAndRowNeverARunArtifact) {
  NETSENTRY_NEEDS_UCI();
  TempDir dir;
  // The classes are the mapping's: a value it does not list is a bad label (without a mapping it
  // would be a third class).
  const auto cfg = small_config(dir, "small", R"(label_mapping: {"-1": 0, "1": 1})");
  auto lines = uci_lines(401);
  // A bad label at data row 250 of the training file.
  auto labels = lines;
  labels[250] = labels[250].substr(0, labels[250].rfind(',')) + ",2";
  const auto bad_labels = dir / "bad_labels.csv";
  write(bad_labels, join(labels));
  auto t = train(dir, cfg, "--data " + q(bad_labels));
  EXPECT_EQ(t.r.exit_code, 3) << t.r.err;
  EXPECT_NE(t.r.err.find(bad_labels.string() + ": data row 250 (line 251), column 'Result': value '2'"),
            std::string::npos)
      << t.r.err;
  EXPECT_EQ(t.r.err.find("data_ingestion"), std::string::npos) << t.r.err;

  // A text value at data row 17 of the evaluation file.
  auto text = lines;
  text[17] = "abc" + text[17].substr(text[17].find(','));
  const auto good = dir / "good.csv", bad_test = dir / "bad_test.csv";
  write(good, join(lines));
  write(bad_test, join(text));
  t = train(dir, cfg, "--data " + q(good) + " --test-data " + q(bad_test));
  EXPECT_EQ(t.r.exit_code, 3) << t.r.err;
  EXPECT_NE(
      t.r.err.find(bad_test.string() + ": column 'having_IP_Address' must be numeric, data row 17 (line 18)"),
      std::string::npos)
      << t.r.err;
  EXPECT_EQ(t.r.err.find("data_ingestion"), std::string::npos) << t.r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "final_model"));

  // The stage commands read the splits back from the run: the split file is named with its source.
  auto a =
      run_cli("-q --config " + q(cfg) + " ingest --data " + q(good) + " --artifact-dir " + q(dir / "stages"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const std::filesystem::path run = json::parse(a.out)["run_dir"].get<std::string>();
  auto split_lines = data_lines(run / "data_ingestion/ingested/train.csv");
  split_lines[3] = split_lines[3].substr(0, split_lines[3].rfind(',')) + ",2";
  write(run / "data_ingestion/ingested/train.csv", join(split_lines));
  auto v = run_cli("-q --config " + q(cfg) + " validate --run-dir " + q(run));
  EXPECT_EQ(v.exit_code, 3) << v.err;
  EXPECT_NE(v.err.find("train.csv (the training split of " + good.string() + "): data row 3 (line 4)"),
            std::string::npos)
      << v.err;
}

TEST(EvaluationSet, TheFeatureStoreIsNamedAfterTheSource) {
  TempDir dir;
  auto ingest = [&](const std::filesystem::path& cfg, const std::string& data) {
    auto a = run_cli("-q --config " + q(cfg) + " ingest --data " + shell_quote(data) + " --artifact-dir " +
                     q(dir / "runs"));
    EXPECT_EQ(a.exit_code, 0) << a.err;
    return a.exit_code == 0
               ? std::filesystem::path(json::parse(a.out)["artifact"]["feature_store"].get<std::string>())
               : std::filesystem::path();
  };
  const auto cfg = small_config(dir, "small", "demo_rows: 300");
  auto demo = ingest(cfg, "demo");
  EXPECT_EQ(demo.filename(), "demo.csv");
  EXPECT_TRUE(std::filesystem::exists(demo));

  const auto flows = dir / "KDD-like flows.csv";
  ASSERT_EQ(run_cli("-q sample-data --rows 300 --seed 4 --output " + q(flows)).exit_code, 0);
  EXPECT_EQ(ingest(cfg, flows.string()).filename(), "KDD-like_flows.csv");
  const std::string db = "sqlite:" + (dir / "flows.db").string() + "?table=connections";
  auto l = run_cli("-q load --input " + q(flows) + " --to " + shell_quote(db) + " --replace");
  ASSERT_EQ(l.exit_code, 0) << l.err;
  EXPECT_EQ(ingest(cfg, db).filename(), "connections.csv");
  // ingestion.feature_store_file still names it when set.
  EXPECT_EQ(
      ingest(small_config(dir, "named", "", "feature_store_file: store.csv"), flows.string()).filename(),
      "store.csv");
}

TEST(EvaluationSet, DropColumnsMayBeListedInTheSchemaOrNot) {
  NETSENTRY_NEEDS_UCI();
  TempDir dir;
  auto lines = uci_lines(2001);
  lines[0] = "record_id," + lines[0];
  for (std::size_t i = 1; i < lines.size(); ++i) lines[i] = std::to_string(1000 + i) + "," + lines[i];
  const auto data = dir / "with_ids.csv";
  write(data, join(lines));
  auto schema_text = read_file(source_dir() / "config/schema/phishing.yaml");
  const auto at = schema_text.find("columns:\n");
  ASSERT_NE(at, std::string::npos);
  schema_text.insert(at + 9, "  - record_id: int64\n");
  const auto listed = dir / "listed.yaml";
  write(listed, schema_text);

  for (const auto& schema : {listed, source_dir() / "config/schema/phishing.yaml"}) {
    TempDir out;
    auto t =
        train(out, small_config(dir, "drop", "drop_columns: [record_id]", "", schema), "--data " + q(data));
    ASSERT_EQ(t.r.exit_code, 0) << schema << "\n" << t.r.err;
    const auto meta = json::parse(read_file(out / "final_model/metadata.json"));
    const auto features = meta["features"].get<std::vector<std::string>>();
    EXPECT_EQ(features.size(), 30u) << schema;
    EXPECT_EQ(std::count(features.begin(), features.end(), "record_id"), 0) << schema;
    EXPECT_EQ(read_file(out / "final_model/schema.json").find("record_id"), std::string::npos) << schema;
  }
  // The stage commands check the split files against the same schema (without the dropped column).
  const auto cfg = small_config(dir, "drop", "drop_columns: [record_id]", "", listed);
  auto a =
      run_cli("-q --config " + q(cfg) + " ingest --data " + q(data) + " --artifact-dir " + q(dir / "stages"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const std::string run = json::parse(a.out)["run_dir"];
  auto v = run_cli("-q --config " + q(cfg) + " validate --run-dir " + shell_quote(run));
  ASSERT_EQ(v.exit_code, 0) << v.err;
  EXPECT_TRUE(json::parse(v.out)["artifact"]["status"].get<bool>());
  auto tr = run_cli("-q --config " + q(cfg) + " transform --run-dir " + shell_quote(run));
  ASSERT_EQ(tr.exit_code, 0) << tr.err;
}
