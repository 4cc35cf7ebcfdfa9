#pragma once
// The pipeline configuration (config/pipeline.yaml): the reference project's constants and more.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace netsentry {

// How a served model's reasons are computed (serve.explain_method, `predict --explain-method`): exact
// (the family's own method), path attributions, or auto (chosen by the model's cost model).
enum class ExplainMethod { Auto, Shap, Path };
// "auto", "shap" or "path"; nullopt for anything else.
std::optional<ExplainMethod> parse_explain_method(std::string_view name);

// The `registry:` section. The gate's metric defaults to model_trainer.metric (empty here).
struct RegistrySettings {
  std::string dir = "registry";  // resolved against the project root
  std::string metric;            // a metric name (model/metrics.hpp); empty: model_trainer.metric, else f1
  double min_improvement = 0.0;  // a candidate must beat production by at least this
  bool auto_promote = true;      // `train` promotes its model when it passes the gate
};

// The `serve:` section (netsentry serve; the command line overrides host, port and threads).
struct ServeSettings {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port (tests)
  // Event-loop threads of the HTTP server (0: two per core); each serves any number of connections.
  int threads = 0;
  // Threads for requests that may take long: bodies over inline_body_bytes, explanations of more than
  // a few milliseconds (0: one per core, at least two).
  int workers = 0;
  std::size_t inline_body_bytes = 256u << 10;
  std::size_t max_body_bytes = 32u << 20;  // 413 above
  // The request line and header fields together (431 above; 414 when the request line alone is over),
  // and how many header fields a request may have (431 above).
  std::size_t max_header_bytes = 16u << 10;
  int max_header_fields = 100;
  std::size_t max_rows = 100000;  // rows per prediction request; 413 above
  int explain_top_k = 3;          // reasons per prediction (0 = none)
  // Explanations may cost (rows x the cost per row the model's cost model estimates) at most this per
  // request; past it a request is answered without reasons, and says so. Exact SHAP on deep forests is slow.
  double explain_budget_ms = 50.0;
  // How reasons are computed: auto (exact SHAP unless it is estimated over 1 ms per row and the model
  // has path attributions), shap, or path (bundle/bundle.hpp).
  ExplainMethod explain_method = ExplainMethod::Auto;
  std::chrono::milliseconds reload_poll{1000};  // how often the model directory is checked (0 = never)
  // The longest gap between two pieces of a request, or in taking an answer; and, for a body, the
  // grace before min_body_bytes_per_second applies.
  int read_timeout_seconds = 10;
  int keep_alive_timeout_seconds = 5;  // an idle connection between requests is closed after this
  // A whole request, from its first header byte to its last body byte, arrives within this (else 408).
  int request_timeout_seconds = 60;
  // A body arriving slower than this on average, past read_timeout_seconds, is cut off (408); 0: off.
  int min_body_bytes_per_second = 1024;
  // Open connections over all event loops; one more is answered 503 (Retry-After: 1) and closed.
  int max_connections = 10000;
  // After SIGTERM, connections still open after this are closed, and a running training job is
  // abandoned (below Kubernetes' default grace of 30 s).
  int shutdown_grace_seconds = 20;
  // Verdict names per class value (the target's original values).
  std::map<std::string, std::string> class_names = {{"-1", "phishing"}, {"1", "legitimate"}};
  // Debug-level access log lines (method, route, status, latency; never bodies or headers).
  bool access_log = false;
  // What POST /api/v1/train may name as `data` / `test_data` (serve/training_sources.hpp): files under
  // these directories (relative ones resolve against the project root) and sources whose URI starts
  // with one of these prefixes. Both empty: only the configured data.source.
  std::vector<std::string> training_data_roots;
  std::vector<std::string> training_source_uris;
};

// model_trainer.threshold: the decision threshold, fixed or chosen on out-of-fold predictions.
struct ThresholdSettings {
  std::string strategy = "fixed";  // fixed | max_f1 | max_fpr
  double value = 0.5;              // fixed
  double max_fpr = 0.01;           // max_fpr: the lowest threshold whose false-positive rate is at most this
};

// `pipeline:`: where runs and the published model go, and the seed of every random choice.
struct PipelineSettings {
  std::string artifact_dir = "artifacts";
  std::string model_dir = "final_model";  // where an accepted model is published
  std::uint64_t seed = 42;
  // The mode of the files netsentry creates (bundles hold training rows): octal text, owner
  // read-write at least; applied by PipelineConfig::load (core/fs.hpp set_file_mode).
  unsigned file_mode = 0640;
};

// `data:`: the source, the target and how its values map to classes, what to drop, what is missing.
struct DataSettings {
  std::string source = "demo";
  // A separate evaluation set (a CSV path or a source URI): every row of `source` trains, every row of
  // this one tests, instead of splitting `source`. Empty: none (`train --test-data` sets it too).
  std::string test_source;
  std::size_t demo_rows = 11055;
  std::string target = "Result";
  // The classes (schema/labels.hpp): target value -> class index, or class -> target values; with
  // neither, one class per distinct training value.
  std::map<std::string, int> label_mapping;
  std::map<std::string, std::vector<std::string>> label_groups;
  // The threat: one class, or every class but the benign ones (two classes: the second by default).
  std::string positive_class;
  std::vector<std::string> benign_classes;
  std::vector<std::string> drop_columns = {"_id"};
  std::vector<std::string> missing_values = {"", "na", "NaN", "nan", "NA"};
  bool header = true;  // false: a CSV source has no header row; its columns are the schema's, in order
  // The largest data file read (CSV): a larger one is refused before it is read.
  std::uintmax_t max_file_bytes = 8ull << 30;
};

// `ingestion:`: the feature store's and the splits' file names, and the split.
struct IngestionSettings {
  std::string feature_store_file;  // empty: named after the source (<file stem>.csv, <table>.csv, ...)
  std::string train_file = "train.csv";
  std::string test_file = "test.csv";
  double test_ratio = 0.2;
  bool stratify = true;
  // random | duplicate_aware | time: the latest test_ratio share of the period (by time_column) tests.
  std::string split = "random";
  // split: time: the column of numbers or ISO-8601 dates/times that orders the rows; it is not a
  // feature (the splits and the schema the later stages see lack it).
  std::string time_column;
};

// `validation:`: the schema and the drift test.
struct ValidationSettings {
  std::string schema_file = "config/schema/phishing.yaml";
  double drift_p_value = 0.05;
  bool fail_on_drift = false;
  bool fail_on_domain = false;  // values outside the schema's domains fail the run (else: reported)
};

// `transformation:`: the KNN imputer (`imputer:`), the scaler and the sampler.
struct TransformationSettings {
  int knn_neighbors = 3;
  std::string knn_weights = "uniform";
  std::string scaler = "none";   // none | robust
  std::string sampler = "none";  // none | smote
  int smote_k = 5;
  // `categorical:` codes per categorical feature ("other" included) and the rarest kept category.
  std::size_t max_categories = 64;
  std::size_t min_frequency = 5;
};

// `model_trainer:`: the quality gate, the search and its space, the decision threshold.
struct TrainerSettings {
  double expected_score = 0.6;
  double overfitting_threshold = 0.05;
  int cv_folds = 3;
  // How candidates are scored: cv (cv_folds stratified folds) or holdout (one stratified share of
  // the training split, holdout_share of its rows: one fit per candidate instead of cv_folds).
  std::string validation = "cv";
  double holdout_share = 0.2;
  // The CV selection metric and the quality gate's (accuracy, roc_auc, f1: threat vs benign;
  // macro_f1, weighted_f1, macro_roc_auc: over the classes); empty: metric_for's default.
  std::string metric;
  // The metric for a target of `classes` classes: the configured one, else f1 (of the threat) for
  // two classes and macro F1 for more.
  std::string metric_for(std::size_t classes) const {
    return !metric.empty() ? metric : classes > 2 ? "macro_f1" : "f1";
  }
  std::string search = "grid";
  double halving_factor = 3;         // successive halving keeps 1/factor of the fits per stage
  bool collapse_duplicates = false;  // fit identical (row, label) pairs as one weighted row
  bool class_weights = false;        // weigh classes inversely to their frequency
  ThresholdSettings threshold;
  nlohmann::json families = nlohmann::json::object();  // family name -> {param: [values]}
  // Limits on the search space (checked before any data is read; model/search.hpp check_grid):
  // trees or rounds per model (n_estimators, max_iter) and candidates the families expand to.
  long long max_trees = 5000;
  long long max_candidates = 2000;
};

// Every setting of config/pipeline.yaml, one typed struct per section, checked once when the file is
// loaded (a bad value or an unknown key is a UsageError naming it); the defaults are the members'
// initial values.
struct PipelineConfig {
  std::filesystem::path
      config_path;  // where it was loaded from; relative paths resolve against its project root

  PipelineSettings pipeline;
  DataSettings data;
  IngestionSettings ingestion;
  ValidationSettings validation;
  TransformationSettings transformation;
  TrainerSettings model_trainer;
  RegistrySettings registry;
  ServeSettings serve;
  nlohmann::json raw;  // the file as read, kept only as the run's record (run.json): nothing reads it

  // Loads and checks a config file; throws UsageError naming the key on a bad value or an unknown key.
  static PipelineConfig load(const std::filesystem::path& path);
  // The same from the file's content (YAML as JSON); `source` names it in errors.
  static PipelineConfig from_json(const nlohmann::json& j, const std::string& source);
  // The same from YAML text, as load reads a file (without setting the file mode).
  static PipelineConfig from_yaml_text(std::string_view text, const std::string& source);
  // Resolves a path from the config against the directory that holds config/ (the project root).
  std::filesystem::path resolve(const std::string& p) const;
  nlohmann::json to_json() const;
};

}  // namespace netsentry
