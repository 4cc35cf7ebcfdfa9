#pragma once
// The one interface every model family implements (scikit-learn's estimator contract in C++):
// parameters are set at construction, fit learns from training data only, predict never learns,
// save/load use data-only files (JSON / the library's own model format; never code).
// Families register themselves by name: adding a family = one new file + NETSENTRY_REGISTER_FAMILY.
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netsentry/core/matrix.hpp"

namespace netsentry {

// A training set that several fits of a search share (the same rows, labels and weights), so a family
// can prepare it once — XGBoost's hist families quantise it once — instead of once per fit.
class SharedTrainingSet {
 public:
  SharedTrainingSet(Matrix X, Labels y, std::vector<float> w = {})
      : X(std::move(X)), y(std::move(y)), w(std::move(w)) {}
  const Matrix X;
  const Labels y;
  const std::vector<float> w;  // empty: unweighted
  const std::vector<float>* weights() const { return w.empty() ? nullptr : &w; }
  // The prepared form stored under `key`, built by `make` on first use; thread-safe.
  std::shared_ptr<void> prepared(const std::string& key,
                                 const std::function<std::shared_ptr<void>()>& make) const;

 private:
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_future<std::shared_ptr<void>>> cache_;
};

class Classifier {
 public:
  virtual ~Classifier() = default;
  virtual std::string family() const = 0;
  virtual nlohmann::json params() const = 0;
  virtual void fit(const Matrix& X, const Labels& y, const std::vector<float>* sample_weight = nullptr) = 0;
  // The same fit from a training set shared with other fits (may reuse its prepared forms).
  virtual void fit(const SharedTrainingSet& d) { fit(d.X, d.y, d.weights()); }
  // The number of classes the model learns: 2 unless set, before fit or load, to K > 2 (class indices
  // 0..K-1; a training set need not hold every class). Every family supports K classes.
  virtual void set_classes(int k) { classes_ = k; }
  int classes() const { return classes_; }
  // Probabilities, in XGBoost's own layouts: for two classes P(class 1), one value per row; for
  // K > 2 classes every class's probability, K values per row (row-major), each row summing to 1.
  virtual std::vector<double> predict_proba(const Matrix& X) const = 0;
  // Writes the fitted model into `dir` (files named by the family); load reads them back.
  virtual void save(const std::filesystem::path& dir) const = 0;
  virtual void load(const std::filesystem::path& dir) = 0;
  // Per-feature contributions to the log-odds of class 1: rows x (features + 1), the last column is
  // the bias. For K > 2 classes, rows x K * (features + 1): class c's block (columns c * (features + 1)
  // onwards, bias last) adds up to class c's margin (its log-probability up to a per-row constant),
  // XGBoost's layout. Empty when the family cannot explain.
  virtual std::optional<Matrix> contributions(const Matrix& X) const {
    (void)X;
    return std::nullopt;
  }
  // The same, cheaper and approximate where the family has such a method (tree ensembles: path
  // attributions, which also add up to the log-odds); empty otherwise.
  virtual std::optional<Matrix> path_contributions(const Matrix& X) const {
    (void)X;
    return std::nullopt;
  }
  // What explaining one row costs, in seconds, by contributions() and by path_contributions():
  // estimated from the fitted model's structure (trees, leaves, depth, training rows) by a fixed cost
  // model, never measured, so that the same model gets the same estimate on every machine and under
  // any load (the server decides by it how to explain, whether within its budget, and where).
  // nullopt when the family cannot explain that way.
  virtual std::optional<double> contributions_cost() const { return std::nullopt; }
  virtual std::optional<double> path_contributions_cost() const { return std::nullopt; }
  // Global feature importance (one value per feature), when the family has one.
  virtual std::vector<double> feature_importance(std::size_t n_features) const {
    return std::vector<double>(n_features, 0.0);
  }
  // For families whose n_estimators values can all be scored from one fit: probabilities using only
  // the first `n` estimators. Default: not supported (nullopt).
  virtual std::optional<std::vector<double>> predict_proba_first(const Matrix& X, int n) const {
    (void)X;
    (void)n;
    return std::nullopt;
  }
  // The same for several values at once (ascending): out[i] uses the first ns[i] estimators. The
  // default asks predict_proba_first for each; a family may score them all in one pass.
  virtual std::optional<std::vector<std::vector<double>>> predict_proba_staged(
      const Matrix& X, const std::vector<int>& ns) const {
    std::vector<std::vector<double>> out;
    for (int n : ns) {
      auto p = predict_proba_first(X, n);
      if (!p) return std::nullopt;
      out.push_back(std::move(*p));
    }
    return out;
  }
  // For the same families: keeps only the first `n` estimators, so the fitted model becomes the one
  // a fit with n_estimators = n would have produced. False when not supported.
  virtual bool keep_first(int n) {
    (void)n;
    return false;
  }
  virtual int nthread() const { return 1; }
  // Families that split on categories themselves (FamilyInfo::native_categorical) learn, before
  // fit or load, which features are category codes: per feature 0 (numeric) or the number of codes.
  virtual void use_categories(const std::vector<int>& cardinality) { (void)cardinality; }

 protected:
  int classes_ = 2;
};

// Probabilities of `rows` rows from predict_proba as rows x classes (two classes: 1 - p, p).
Matrix class_probabilities(const std::vector<double>& p, std::size_t rows, int classes);

// Creates an unfitted classifier of a family from its parameters ({"n_estimators": 64, ...}).
using FamilyFactory = std::function<std::unique_ptr<Classifier>(const nlohmann::json& params)>;

// The values a family's parameter takes: a number in [lo, hi], an integer when `integer`; `trees`:
// its upper bound is model_trainer.max_trees instead of `hi` (a count of trees or rounds).
struct ParamRange {
  std::string name;
  double lo = 0, hi = 0;
  bool integer = true;
  bool trees = false;
};

struct FamilyInfo {
  std::string name;         // "gradient_boosting"
  std::string description;  // one line for --help and the docs
  FamilyFactory create;
  int complexity_rank;  // ties in CV score go to the lower rank (simpler model)
  // True when every n_estimators value up to the fitted one can be scored from one fit
  // (predict_proba_first), so a grid over n_estimators costs one fit.
  bool staged_n_estimators = false;
  // True when the family splits on category codes itself (XGBoost's hist trees); the others read
  // categorical features one-hot encoded (model/one_hot.hpp).
  bool native_categorical = false;
  // Every parameter the family takes (nthread and seed, common to all, aside).
  std::vector<ParamRange> params;
};

void register_family(FamilyInfo info);
const FamilyInfo& family(const std::string& name);  // throws UsageError naming the known families
std::vector<std::string> family_names();
// With categorical features (`cardinality`: per feature 0 or the number of category codes), a family
// without native support gets them one-hot encoded; `classes`: Classifier::set_classes.
std::unique_ptr<Classifier> create_classifier(const std::string& family, const nlohmann::json& params,
                                              const std::vector<int>& cardinality = {}, int classes = 2);

struct FamilyRegistrar {
  explicit FamilyRegistrar(FamilyInfo info) { register_family(std::move(info)); }
};

}  // namespace netsentry

#define NETSENTRY_REGISTER_FAMILY(id, ...) \
  static ::netsentry::FamilyRegistrar netsentry_family_##id(__VA_ARGS__)
