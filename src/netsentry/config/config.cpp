#include "netsentry/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include "netsentry/core/error.hpp"

namespace netsentry {

namespace {

nlohmann::json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json j = nlohmann::json::object();
      for (auto it : n) j[it.first.as<std::string>()] = yaml_to_json(it.second);
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

template <class T>
void get(const nlohmann::json& j, const char* section, const char* key, T& out, const std::string& src) {
  if (!j.contains(section) || !j[section].is_object() || !j[section].contains(key)) return;
  try {
    out = j[section][key].get<T>();
  } catch (const std::exception&) {
    throw UsageError(src + ": " + section + "." + key + " has the wrong type (got " + j[section][key].dump() +
                     ")");
  }
}

}  // namespace

PipelineConfig PipelineConfig::load(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw UsageError(path.string() + ": config file not found");
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    throw UsageError(path.string() + ": invalid YAML: " + e.what());
  }
  PipelineConfig c;
  c.config_path = std::filesystem::absolute(path);
  const auto j = yaml_to_json(root);
  const std::string src = path.string();
  if (!j.is_object()) throw UsageError(src + ": expected a mapping at the top level");
  c.raw = j;
  get(j, "pipeline", "artifact_dir", c.artifact_dir, src);
  get(j, "pipeline", "random_seed", c.seed, src);
  get(j, "pipeline", "model_dir", c.model_dir, src);
  get(j, "data", "source", c.source, src);
  get(j, "data", "demo_rows", c.demo_rows, src);
  get(j, "data", "target_column", c.target, src);
  get(j, "data", "drop_columns", c.drop_columns, src);
  get(j, "data", "missing_values", c.missing_values, src);
  if (j.contains("data") && j["data"].contains("label_mapping")) {
    c.label_mapping.clear();
    for (auto& [k, v] : j["data"]["label_mapping"].items()) {
      if (!v.is_number_integer() || (v.get<int>() != 0 && v.get<int>() != 1))
        throw UsageError(src + ": data.label_mapping." + k + " must be 0 or 1");
      c.label_mapping[k] = v.get<int>();
    }
  }
  get(j, "ingestion", "feature_store_file", c.feature_store_file, src);
  get(j, "ingestion", "train_file", c.train_file, src);
  get(j, "ingestion", "test_file", c.test_file, src);
  get(j, "ingestion", "test_ratio", c.test_ratio, src);
  get(j, "ingestion", "stratify", c.stratify, src);
  get(j, "ingestion", "split", c.split, src);
  get(j, "validation", "schema_file", c.schema_file, src);
  get(j, "validation", "drift_p_value", c.drift_p_value, src);
  get(j, "validation", "fail_on_drift", c.fail_on_drift, src);
  if (j.contains("transformation")) {
    const auto& t = j["transformation"];
    get(t, "imputer", "n_neighbors", c.knn_neighbors, src);
    get(t, "imputer", "weights", c.knn_weights, src);
  }
  get(j, "transformation", "scaler", c.scaler, src);
  get(j, "transformation", "sampler", c.sampler, src);
  get(j, "transformation", "smote_k", c.smote_k, src);
  get(j, "model_trainer", "expected_score", c.expected_score, src);
  get(j, "model_trainer", "overfitting_threshold", c.overfitting_threshold, src);
  get(j, "model_trainer", "cv_folds", c.cv_folds, src);
  get(j, "model_trainer", "metric", c.metric, src);
  get(j, "model_trainer", "search", c.search, src);
  get(j, "model_trainer", "halving_factor", c.halving_factor, src);
  get(j, "model_trainer", "collapse_duplicates", c.collapse_duplicates, src);
  if (j.contains("model_trainer") && j["model_trainer"].contains("families"))
    c.families = j["model_trainer"]["families"];

  auto bad = [&](const std::string& what) { throw UsageError(src + ": " + what); };
  if (!(c.test_ratio > 0 && c.test_ratio < 1)) bad("ingestion.test_ratio must be in (0, 1)");
  if (c.split != "random" && c.split != "duplicate_aware")
    bad("ingestion.split must be random or duplicate_aware");
  if (c.knn_neighbors < 1) bad("transformation.imputer.n_neighbors must be >= 1");
  if (c.knn_weights != "uniform" && c.knn_weights != "distance")
    bad("transformation.imputer.weights must be uniform or distance");
  if (c.scaler != "none" && c.scaler != "robust") bad("transformation.scaler must be none or robust");
  if (c.sampler != "none" && c.sampler != "smote") bad("transformation.sampler must be none or smote");
  if (c.cv_folds < 2) bad("model_trainer.cv_folds must be >= 2");
  if (!(c.halving_factor >= 2 && c.halving_factor <= 100))
    bad("model_trainer.halving_factor must be in [2, 100]");
  if (c.metric != "f1" && c.metric != "accuracy" && c.metric != "roc_auc")
    bad("model_trainer.metric must be f1, accuracy or roc_auc");
  if (!(c.drift_p_value > 0 && c.drift_p_value < 1)) bad("validation.drift_p_value must be in (0, 1)");
  if (!c.families.is_object() || c.families.empty())
    bad("model_trainer.families must name at least one family");
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
