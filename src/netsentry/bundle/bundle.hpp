#pragma once
// A model bundle: the directory `final_model/` (the reference project's name), data-only files:
//   metadata.json      {"format": "netsentry-bundle", "format_version": 2, "version", "created_at",
//                       "data_sha256", "seed", "netsentry_version", "family", "params", "target",
//                       "features": [...], "classes": {classes, threat_classes, values},
//                       "threshold" (on P(threat)), "metrics": {...}}
//                      (format 1 had "label_mapping" instead of "classes": see classes())
//   model/             the classifier's own files (XGBoost JSON model, OpenCV YAML, ...)
//   preprocessor.json  fitted imputer (+ scaler): parameters and training statistics
//   schema.json        the schema the model was trained with
//   metrics.json       test metrics and the confusion matrix
// A bundle is always written whole into a temp dir and renamed into place (core/fs publish_dir).
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "netsentry/config/config.hpp"
#include "netsentry/core/matrix.hpp"
#include "netsentry/model/metrics.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/schema/schema.hpp"
#include "netsentry/table/table.hpp"
#include "netsentry/transform/categorical_encoder.hpp"

namespace netsentry {

class Classifier;
class Preprocessor;

// Scores by the verdict rule (model/decision.hpp): a threat when P(threat) >= the threshold, then the
// most probable threat class, otherwise the most probable benign class.
struct Scored {
  std::vector<int> label;           // the verdict class (an index into ModelBundle::classes())
  std::vector<double> probability;  // P(threat): the probability that the row is a threat
  Matrix class_probability;         // rows x classes: every class's probability
};

// A bundle's test metrics on labelled rows (the binary view, threat = positive, and the K-class
// figures), over the rows whose target value has a class; `unmapped` rows (a later period's new
// labels) are left out and counted.
struct LabelledMetrics {
  Metrics metrics;
  std::size_t unmapped = 0;
  std::map<std::string, std::size_t> unmapped_values;
};

class ModelBundle {
 public:
  ModelBundle();
  ~ModelBundle();
  ModelBundle(ModelBundle&&) noexcept;
  ModelBundle& operator=(ModelBundle&&) noexcept;

  // Loads and checks every file; throws DataError naming the file that is missing or malformed.
  static ModelBundle load(const std::filesystem::path& dir);
  // Writes the bundle to `dest` atomically (temp dir + fsync + rename).
  void save(const std::filesystem::path& dest) const;
  // Publishes a copy of the saved bundle `saved_dir` (this bundle, as saved there) at `dest` with the
  // current metadata: the model and preprocessor files are copied, not serialised again.
  void save_copy_of(const std::filesystem::path& saved_dir, const std::filesystem::path& dest) const;

  const nlohmann::json& metadata() const { return metadata_; }
  nlohmann::json& metadata() { return metadata_; }
  const Schema& schema() const { return schema_; }
  const std::vector<std::string>& features() const { return features_; }
  const std::string& target() const { return target_; }
  // The decision threshold on P(threat).
  double threshold() const { return threshold_; }
  std::string version() const { return metadata_.value("version", std::string{}); }
  // The target's classes (names, threats); bundles from before they were recorded get the classes of
  // their label_mapping with the threat at index 0 (LabelSpace::legacy).
  const LabelSpace& classes() const { return classes_; }
  // The class name of a class index (e.g. 1 -> "-1" for the phishing data).
  std::string class_value(int cls) const { return classes_.name(cls); }

  // The feature matrix (schema order) from a table: numbers, and category codes for categorical
  // features (NaN: missing, or a category training never saw, counted into `unseen`); DataError
  // naming a missing or non-numeric column and the row of a bad value. Extra columns (e.g. the
  // target) are ignored.
  Matrix features_from(const Table& t, UnseenCategories* unseen = nullptr) const;
  // The categories of the categorical features (code -> name), for answers and reasons.
  const CategoricalEncoder& encoder() const;
  // Class indices of the target column through the bundle's classes; DataError naming the row of a
  // value no class knows.
  Labels labels_from(const Table& t) const;
  // Scores `t` (features and target) and measures the threat-class metrics.
  LabelledMetrics metrics_on(const Table& t) const;
  // Preprocess + predict. X in feature order, NaN = missing.
  Scored score(const Matrix& X) const;
  // Per-row feature contributions (rows x features) to the log-odds of a threat (two classes) or to
  // the margin of the row's verdict class (K > 2); empty if the family has none.
  // Shap: the family's exact method (SHAP for XGBoost's families); Path: path attributions
  // (Classifier::path_contributions), empty for families without them.
  enum class Attribution { Shap, Path };
  std::optional<Matrix> explain(const Matrix& X, Attribution how = Attribution::Shap) const;
  static const char* attribution_name(Attribution a) { return a == Attribution::Path ? "path" : "shap"; }

  // How to explain (serve.explain_method, `predict --explain-method`): Shap (exact), Path (path
  // attributions where the family has them, else exact), or Auto: exact unless one row is estimated
  // to cost more than kAutoShapMaxSecondsPerRow and the family has path attributions (deep forests:
  // exact SHAP takes milliseconds to tens of milliseconds per row, path attributions microseconds).
  // The estimate is the family's cost model (Classifier::contributions_cost: the model's trees,
  // leaves and depth), never a measurement: the same bundle always gets the same method.
  using ExplainMethod = netsentry::ExplainMethod;  // config/config.hpp (serve.explain_method)
  static constexpr double kAutoShapMaxSecondsPerRow = 1e-3;
  struct ExplainChoice {
    bool can_explain = false;
    Attribution how = Attribution::Shap;
    double seconds_per_row = 0.0;  // one row explained `how`, as the cost model estimates it
  };
  // Decides by the cost model, and explains one row of zeros (a check, and a warm-up). Throws what
  // explain() throws.
  ExplainChoice choose_explanation(ExplainMethod method) const;
  std::vector<double> feature_importance() const;

  // Builder used by the trainer.
  static ModelBundle assemble(std::unique_ptr<Classifier> model, std::unique_ptr<Preprocessor> pre,
                              Schema schema, std::vector<std::string> features, std::string target,
                              nlohmann::json metadata);

 private:
  void write_metadata(const std::filesystem::path& dir) const;  // metrics.json, then metadata.json
  nlohmann::json metadata_;
  Schema schema_;
  std::vector<std::string> features_;
  std::string target_;
  double threshold_ = 0.5;
  LabelSpace classes_;
  // Per class, whether it is a threat (legacy bundles: class 0, so P(threat) = 1 - P(class 1) and
  // contributions change sign).
  std::vector<bool> threat_;
  void set_classes(const nlohmann::json& metadata);
  std::unique_ptr<Classifier> model_;
  std::unique_ptr<Preprocessor> pre_;
};

}  // namespace netsentry
