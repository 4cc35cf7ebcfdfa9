#include "netsentry/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/core/yaml_load.hpp"

namespace netsentry {

namespace {

// A value as a message shows it: its JSON, cut short (a megabyte list in a config is named, not
// printed).
std::string shown(const nlohmann::json& v) {
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 80) {
    std::size_t cut = 60;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
    s = s.substr(0, cut) + "... (" + std::to_string(s.size()) + " bytes)";
  }
  return s;
}

nlohmann::json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json j = nlohmann::json::object();
      for (auto it : n) {
        if (!it.first.IsScalar())  // YAML's "? [a, b]": a list or a mapping as a key
          throw UsageError("line " + std::to_string(it.first.Mark().line + 1) +
                           ": a key must be a plain name, not a list or a mapping");
        j[it.first.Scalar()] = yaml_to_json(it.second);
      }
      return j;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json j = nlohmann::json::array();
      for (auto x : n) j.push_back(yaml_to_json(x));
      return j;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true" || s == "false") return s == "true";
      if (s == "null" || s == "~") return nullptr;
      try {
        std::size_t used = 0;
        long long i = std::stoll(s, &used);
        if (used == s.size()) return i;
      } catch (...) {
      }
      try {
        std::size_t used = 0;
        double d = std::stod(s, &used);
        if (used == s.size()) return d;
      } catch (...) {
      }
      return s;
    }
    default:
      return nullptr;
  }
}

// A class name as written in YAML: text, or an integer (`-1`) as the data would spell it.
std::string class_text(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : std::to_string(v.get<long long>());
}

// The keys each section may hold ("a.b" for a nested mapping); anything else is refused by name.
const std::map<std::string, std::vector<std::string>>& known_keys() {
  static const std::map<std::string, std::vector<std::string>> k = {
      {"",
       {"pipeline", "data", "ingestion", "validation", "transformation", "model_trainer", "registry",
        "serve"}},
      {"pipeline", {"name", "artifact_dir", "model_dir", "random_seed", "file_mode"}},
      {"data",
       {"source", "test_source", "demo_rows", "target_column", "label_mapping", "label_groups",
        "positive_class", "benign_classes", "drop_columns", "missing_values", "header", "max_file_bytes"}},
      {"ingestion",
       {"feature_store_file", "train_file", "test_file", "test_ratio", "stratify", "split", "time_column"}},
      {"validation", {"schema_file", "drift_p_value", "fail_on_drift", "fail_on_domain"}},
      {"transformation", {"imputer", "scaler", "sampler", "smote_k", "categorical"}},
      {"transformation.categorical", {"max_categories", "min_frequency"}},
      {"transformation.imputer", {"n_neighbors", "weights"}},
      {"model_trainer",
       {"expected_score", "overfitting_threshold", "cv_folds", "validation", "holdout_share", "metric",
        "search", "halving_factor", "collapse_duplicates", "class_weights", "threshold", "families",
        "max_trees", "max_candidates"}},
      {"model_trainer.threshold", {"strategy", "value", "max_fpr"}},
      {"registry", {"dir", "metric", "min_improvement", "auto_promote"}},
      {"serve",
       {"host",
        "port",
        "threads",
        "workers",
        "inline_body_bytes",
        "max_body_bytes",
        "max_header_bytes",
        "max_header_fields",
        "max_rows",
        "explain_top_k",
        "explain_budget_ms",
        "explain_method",
        "reload_poll_ms",
        "read_timeout_seconds",
        "keep_alive_timeout_seconds",
        "request_timeout_seconds",
        "min_body_bytes_per_second",
        "max_connections",
        "shutdown_grace_seconds",
        "class_names",
        "access_log",
        "training_data_roots",
        "training_source_uris"}},
  };
  return k;
}

// Reads one file's sections: `at(path)` is the mapping at "section" or "section.sub" (an empty object
// when absent); every value is converted to its member's type, or the key is named in the error.
class Reader {
 public:
  Reader(const nlohmann::json& root, std::string src) : root_(root), src_(std::move(src)) {
    if (!root_.is_object()) fail("expected a mapping at the top level");
    check_keys("", root_);
  }

  [[noreturn]] void fail(const std::string& what) const { throw UsageError(src_ + ": " + what); }

  // The mapping at `path`, its keys checked.
  const nlohmann::json& at(const std::string& path) const {
    static const nlohmann::json empty = nlohmann::json::object();
    const nlohmann::json* node = &root_;
    std::size_t start = 0;
    while (start <= path.size()) {
      const auto dot = path.find('.', start);
      const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (!node->contains(key) || (*node)[key].is_null()) return empty;
      node = &(*node)[key];
      if (!node->is_object()) fail(path + " must be a mapping (got " + shown(*node) + ")");
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    check_keys(path, *node);
    return *node;
  }

  template <class T>
  void get(const std::string& path, const char* key, T& out) const {
    const auto& sec = at(path);
    if (!sec.contains(key)) return;
    try {
      out = sec[key].get<T>();
    } catch (const std::exception&) {
      fail(path + "." + key + " has the wrong type (got " + shown(sec[key]) + ")");
    }
  }

  // An integer in [lo, hi].
  template <class T>
  void get_int(const std::string& path, const char* key, T& out, long long lo, long long hi) const {
    const auto& sec = at(path);
    if (!sec.contains(key)) return;
    const auto& v = sec[key];
    if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi)
      fail(path + "." + key + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
           "] (got " + shown(v) + ")");
    out = static_cast<T>(v.get<long long>());
  }

  // A finite number (not true/false) in [lo, hi]; `open`: (lo, hi).
  void get_real(const std::string& path, const char* key, double& out, double lo, double hi,
                bool open = false) const {
    const auto& sec = at(path);
    if (!sec.contains(key)) return;
    const auto& v = sec[key];
    const bool number = v.is_number() && std::isfinite(v.get<double>());
    const double x = number ? v.get<double>() : 0.0;
    if (!number || (open ? !(x > lo && x < hi) : !(x >= lo && x <= hi))) {
      char range[96];
      std::snprintf(range, sizeof range, "%c%g, %g%c", open ? '(' : '[', lo, hi, open ? ')' : ']');
      fail(path + "." + key + " must be a number in " + range + " (got " + shown(v) + ")");
    }
    out = x;
  }

 private:
  void check_keys(const std::string& path, const nlohmann::json& node) const {
    const auto it = known_keys().find(path);
    if (it == known_keys().end()) return;  // free-form (e.g. label_mapping, families)
    for (auto kv = node.begin(); kv != node.end(); ++kv)
      if (std::find(it->second.begin(), it->second.end(), kv.key()) == it->second.end()) {
        std::string known;
        for (const auto& k : it->second) known += (known.empty() ? "" : ", ") + k;
        fail("unknown key '" + (path.empty() ? "" : path + ".") + kv.key() + "' (known" +
             (path.empty() ? "" : " in " + path) + ": " + known + ")");
      }
  }

  const nlohmann::json& root_;
  std::string src_;
};

bool one_of(const std::string& v, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed)
    if (v == a) return true;
  return false;
}

// A config document as JSON; a key that is not a plain name is a UsageError starting with `source`.
nlohmann::json document_json(const YAML::Node& root, const std::string& source) {
  try {
    return yaml_to_json(root);
  } catch (const UsageError& e) {
    throw UsageError(source + ": " + e.what());
  }
}

}  // namespace

std::optional<ExplainMethod> parse_explain_method(std::string_view name) {
  if (name == "auto") return ExplainMethod::Auto;
  if (name == "shap") return ExplainMethod::Shap;
  if (name == "path") return ExplainMethod::Path;
  return std::nullopt;
}

PipelineConfig PipelineConfig::load(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw UsageError(path.string() + ": config file not found");
  if (std::filesystem::is_directory(path))
    throw UsageError(path.string() + ": is a directory, expected a config file (--config FILE.yaml)");
  PipelineConfig c = from_json(document_json(load_yaml_file(path), path.string()), path.string());
  c.config_path = std::filesystem::absolute(path);
  set_file_mode(c.pipeline.file_mode);  // every file the command writes from here on
  return c;
}

PipelineConfig PipelineConfig::from_yaml_text(std::string_view text, const std::string& source) {
  return from_json(document_json(parse_yaml(text, source), source), source);
}

PipelineConfig PipelineConfig::from_json(const nlohmann::json& j, const std::string& src) {
  const Reader r(j, src);
  PipelineConfig c;
  c.raw = j;
  r.get("pipeline", "artifact_dir", c.pipeline.artifact_dir);
  r.get_int("pipeline", "random_seed", c.pipeline.seed, 0, std::numeric_limits<long long>::max());
  r.get("pipeline", "model_dir", c.pipeline.model_dir);
  if (const auto& p = r.at("pipeline"); p.contains("file_mode")) {
    const auto& v = p["file_mode"];
    const std::string text = v.is_string() ? v.get<std::string>() : "";
    std::size_t used = 0;
    unsigned long mode = 0;
    try {
      mode = std::stoul(text, &used, 8);
    } catch (const std::exception&) {
      used = 0;
    }
    if (text.empty() || used != text.size() || mode > 0777 || (mode & 0600) != 0600)
      r.fail(
          "pipeline.file_mode must be an octal mode in quotes with owner read and write, such as \"0640\" "
          "or \"0600\" (got " +
          shown(v) + ")");
    c.pipeline.file_mode = static_cast<unsigned>(mode);
  }
  r.get("data", "source", c.data.source);
  r.get("data", "test_source", c.data.test_source);
  r.get_int("data", "demo_rows", c.data.demo_rows, 10, 100000000);
  r.get("data", "target_column", c.data.target);
  r.get("data", "drop_columns", c.data.drop_columns);
  r.get("data", "missing_values", c.data.missing_values);
  r.get("data", "header", c.data.header);
  r.get_int("data", "max_file_bytes", c.data.max_file_bytes, 1024, 1LL << 40);
  if (const auto& d = r.at("data"); d.contains("label_mapping")) {
    if (!d["label_mapping"].is_object())
      r.fail("data.label_mapping must map target values to class indices (0, 1, ...)");
    c.data.label_mapping.clear();
    for (auto& [k, v] : d["label_mapping"].items()) {
      if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > 1000000)
        r.fail("data.label_mapping." + k + " must be a class index (0, 1, ...), not " + shown(v));
      c.data.label_mapping[k] = v.get<int>();
    }
  }
  if (const auto& d = r.at("data"); d.contains("label_groups")) {
    if (!d["label_groups"].is_object())
      r.fail("data.label_groups must map each class name to a list of target values");
    for (auto& [k, v] : d["label_groups"].items()) {
      if (!v.is_array()) r.fail("data.label_groups." + k + " must be a list of target values");
      auto& out = c.data.label_groups[k];
      for (auto& x : v) {
        if (!x.is_string() && !x.is_number_integer())
          r.fail("data.label_groups." + k + " must list target values (got " + shown(x) + ")");
        out.push_back(class_text(x));
      }
    }
  }
  if (const auto& d = r.at("data"); d.contains("positive_class")) {
    const auto& v = d["positive_class"];
    if (!v.is_string() && !v.is_number_integer())
      r.fail("data.positive_class must name a class (got " + shown(v) + ")");
    c.data.positive_class = class_text(v);
  }
  if (const auto& d = r.at("data"); d.contains("benign_classes")) {
    const auto& v = d["benign_classes"];
    if (!v.is_array()) r.fail("data.benign_classes must be a list of class names");
    for (auto& x : v) {
      if (!x.is_string() && !x.is_number_integer())
        r.fail("data.benign_classes must list class names (got " + shown(x) + ")");
      c.data.benign_classes.push_back(class_text(x));
    }
  }
  r.get("ingestion", "feature_store_file", c.ingestion.feature_store_file);
  r.get("ingestion", "train_file", c.ingestion.train_file);
  r.get("ingestion", "test_file", c.ingestion.test_file);
  r.get_real("ingestion", "test_ratio", c.ingestion.test_ratio, 0, 1, true);
  r.get("ingestion", "stratify", c.ingestion.stratify);
  r.get("ingestion", "split", c.ingestion.split);
  r.get("ingestion", "time_column", c.ingestion.time_column);
  r.get("validation", "schema_file", c.validation.schema_file);
  r.get_real("validation", "drift_p_value", c.validation.drift_p_value, 0, 1, true);
  r.get("validation", "fail_on_drift", c.validation.fail_on_drift);
  r.get("validation", "fail_on_domain", c.validation.fail_on_domain);
  r.get_int("transformation.imputer", "n_neighbors", c.transformation.knn_neighbors, 1, 1000);
  r.get("transformation.imputer", "weights", c.transformation.knn_weights);
  r.get("transformation", "scaler", c.transformation.scaler);
  r.get("transformation", "sampler", c.transformation.sampler);
  r.get_int("transformation", "smote_k", c.transformation.smote_k, 1, 1000);
  r.get_int("transformation.categorical", "max_categories", c.transformation.max_categories, 2, 1 << 20);
  r.get_int("transformation.categorical", "min_frequency", c.transformation.min_frequency, 1, 1LL << 40);
  r.get_real("model_trainer", "expected_score", c.model_trainer.expected_score, 0, 1);
  r.get_real("model_trainer", "overfitting_threshold", c.model_trainer.overfitting_threshold, 0, 1);
  r.get_int("model_trainer", "cv_folds", c.model_trainer.cv_folds, 2, 100);
  r.get_int("model_trainer", "max_trees", c.model_trainer.max_trees, 1, 1000000);
  r.get_int("model_trainer", "max_candidates", c.model_trainer.max_candidates, 1, 1000000);
  r.get("model_trainer", "validation", c.model_trainer.validation);
  r.get_real("model_trainer", "holdout_share", c.model_trainer.holdout_share, 0.05, 0.5);
  r.get("model_trainer", "metric", c.model_trainer.metric);
  r.get("model_trainer", "search", c.model_trainer.search);
  r.get_real("model_trainer", "halving_factor", c.model_trainer.halving_factor, 2, 100);
  r.get("model_trainer", "collapse_duplicates", c.model_trainer.collapse_duplicates);
  r.get("model_trainer", "class_weights", c.model_trainer.class_weights);
  r.get("model_trainer.threshold", "strategy", c.model_trainer.threshold.strategy);
  r.get_real("model_trainer.threshold", "value", c.model_trainer.threshold.value, 0, 1);
  r.get_real("model_trainer.threshold", "max_fpr", c.model_trainer.threshold.max_fpr, 0, 1);
  if (const auto& mt = r.at("model_trainer"); mt.contains("families"))
    c.model_trainer.families = mt["families"];
  r.get("registry", "dir", c.registry.dir);
  r.get("registry", "metric", c.registry.metric);
  r.get_real("registry", "min_improvement", c.registry.min_improvement, -1, 1);
  r.get("registry", "auto_promote", c.registry.auto_promote);
  auto& sv = c.serve;
  r.get("serve", "host", sv.host);
  r.get_int("serve", "port", sv.port, 0, 65535);
  r.get_int("serve", "threads", sv.threads, 0, 1024);
  r.get_int("serve", "workers", sv.workers, 0, 1024);
  r.get_int("serve", "inline_body_bytes", sv.inline_body_bytes, 0, 1LL << 30);
  r.get_int("serve", "max_body_bytes", sv.max_body_bytes, 1024, 1LL << 34);
  r.get_int("serve", "max_header_bytes", sv.max_header_bytes, 1024, 1 << 20);
  r.get_int("serve", "max_header_fields", sv.max_header_fields, 1, 10000);
  r.get_int("serve", "max_rows", sv.max_rows, 1, 100000000);
  r.get_int("serve", "explain_top_k", sv.explain_top_k, 0, 1000);
  r.get_int("serve", "read_timeout_seconds", sv.read_timeout_seconds, 1, 3600);
  r.get_int("serve", "keep_alive_timeout_seconds", sv.keep_alive_timeout_seconds, 1, 3600);
  r.get_int("serve", "request_timeout_seconds", sv.request_timeout_seconds, 1, 3600);
  r.get_int("serve", "min_body_bytes_per_second", sv.min_body_bytes_per_second, 0, 1 << 30);
  r.get_int("serve", "max_connections", sv.max_connections, 1, 1000000);
  r.get_int("serve", "shutdown_grace_seconds", sv.shutdown_grace_seconds, 0, 3600);
  long long budget = static_cast<long long>(sv.explain_budget_ms), poll_ms = sv.reload_poll.count();
  r.get_int("serve", "explain_budget_ms", budget, 0, 3600000);
  r.get_int("serve", "reload_poll_ms", poll_ms, 0, 3600000);
  sv.explain_budget_ms = static_cast<double>(budget);
  sv.reload_poll = std::chrono::milliseconds(poll_ms);
  std::string method = "auto";
  r.get("serve", "explain_method", method);
  if (const auto m = parse_explain_method(method))
    sv.explain_method = *m;
  else
    r.fail("serve.explain_method must be auto, shap or path (got '" + method + "')");
  r.get("serve", "access_log", sv.access_log);
  r.get("serve", "training_data_roots", sv.training_data_roots);
  r.get("serve", "training_source_uris", sv.training_source_uris);
  for (const auto& root : sv.training_data_roots)
    if (root.empty()) r.fail("serve.training_data_roots lists an empty path");
  for (const auto& uri : sv.training_source_uris)
    if (uri.find("://") == std::string::npos && uri != "mongodb")
      r.fail("serve.training_source_uris must list URI prefixes such as mongodb://host:27017/db (got '" +
             uri + "')");
  if (const auto& s = r.at("serve"); s.contains("class_names")) {
    if (!s["class_names"].is_object()) r.fail("serve.class_names must map class values to names");
    sv.class_names.clear();
    for (auto it = s["class_names"].begin(); it != s["class_names"].end(); ++it) {
      if (!it.value().is_string()) r.fail("serve.class_names." + it.key() + " must be a string");
      sv.class_names[it.key()] = it.value().get<std::string>();
    }
  }

  auto bad = [&](const std::string& what) { r.fail(what); };
  if (!one_of(c.ingestion.split, {"random", "duplicate_aware", "time"}))
    bad("ingestion.split must be random, duplicate_aware or time (got '" + c.ingestion.split + "')");
  if (c.ingestion.split == "time" && c.ingestion.time_column.empty())
    bad("ingestion.split: time needs ingestion.time_column (the column that orders the rows)");
  if (!c.ingestion.time_column.empty() && c.ingestion.time_column == c.data.target)
    bad("ingestion.time_column cannot be the target column '" + c.data.target + "'");
  if (!c.ingestion.time_column.empty() &&
      std::count(c.data.drop_columns.begin(), c.data.drop_columns.end(), c.ingestion.time_column))
    bad("ingestion.time_column '" + c.ingestion.time_column + "' is in data.drop_columns (never read)");
  if (c.ingestion.split != "time" && !c.ingestion.time_column.empty())
    bad("ingestion.time_column is only used by ingestion.split: time (split is " + c.ingestion.split + ")");
  if (!one_of(c.transformation.knn_weights, {"uniform", "distance"}))
    bad("transformation.imputer.weights must be uniform or distance");
  if (!one_of(c.transformation.scaler, {"none", "robust"}))
    bad("transformation.scaler must be none or robust");
  if (!one_of(c.transformation.sampler, {"none", "smote"}))
    bad("transformation.sampler must be none or smote");
  if (!one_of(c.model_trainer.validation, {"cv", "holdout"}))
    bad("model_trainer.validation must be cv or holdout (got '" + c.model_trainer.validation + "')");
  if (!c.model_trainer.metric.empty() &&
      !one_of(c.model_trainer.metric,
              {"f1", "accuracy", "roc_auc", "macro_f1", "weighted_f1", "macro_roc_auc"}))
    bad("model_trainer.metric must be f1, accuracy, roc_auc, macro_f1, weighted_f1 or macro_roc_auc (got '" +
        c.model_trainer.metric + "')");
  if (!one_of(c.model_trainer.threshold.strategy, {"fixed", "max_f1", "max_fpr"}))
    bad("model_trainer.threshold.strategy must be fixed, max_f1 or max_fpr, not '" +
        c.model_trainer.threshold.strategy + "'");
  if (!c.model_trainer.families.is_object() || c.model_trainer.families.empty())
    bad("model_trainer.families must name at least one family");
  if (c.registry.dir.empty()) bad("registry.dir must be a directory path");
  if (!c.registry.metric.empty() &&
      !one_of(c.registry.metric, {"accuracy", "f1", "precision", "recall", "roc_auc", "macro_f1",
                                  "weighted_f1", "macro_roc_auc"}))
    bad("registry.metric must be one of accuracy, f1, precision, recall, roc_auc, macro_f1, weighted_f1, "
        "macro_roc_auc (got '" +
        c.registry.metric + "')");
  return c;
}

std::filesystem::path PipelineConfig::resolve(const std::string& p) const {
  std::filesystem::path path(p);
  if (path.is_absolute() || config_path.empty()) return path;
  // config/pipeline.yaml -> project root is the parent of config/
  auto dir = config_path.parent_path();
  auto root = dir.filename() == "config" ? dir.parent_path() : dir;
  auto candidate = root / path;
  if (std::filesystem::exists(candidate) || !std::filesystem::exists(path)) return candidate;
  return path;
}

nlohmann::json PipelineConfig::to_json() const { return raw; }

}  // namespace netsentry
