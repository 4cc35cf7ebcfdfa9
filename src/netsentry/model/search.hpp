#pragma once
// Hyper-parameter search over model families with stratified k-fold cross-validation.
// Strategies: exhaustive grid, successive halving (budget: rows, or rounds for staged families). Families
// whose n_estimators are boosting rounds score every n_estimators value of a candidate from one fit. The
// fits run on the worker pool (core/parallel.hpp).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netsentry/core/matrix.hpp"
#include "netsentry/model/classifier.hpp"

namespace netsentry {

// Limits on the search space (model_trainer.max_trees, model_trainer.max_candidates).
struct GridLimits {
  long long max_trees = 5000;
  long long max_candidates = 2000;
};

struct SearchOptions {
  int folds = 3;
  GridLimits limits;
  // > 0: every candidate is scored on one stratified held-out share of the rows (this share) instead
  // of k folds: one fit per candidate and stage instead of k, for data large enough that one share
  // ranks the candidates.
  double holdout = 0;
  std::string metric = "f1";      // a name of kMetricNames (model/metrics.hpp)
  std::string strategy = "grid";  // grid | halving
  double halving_factor = 3;      // halving: each stage keeps 1/factor of the fits, budget x factor
  std::uint64_t seed = 42;
  int threads = 0;     // 0 = hardware concurrency
  bool smote = false;  // oversample the training folds only (never the validation fold)
  int smote_k = 5;
  bool class_weights = false;  // weight samples inversely to class frequency
  bool refit = true;           // fit the best candidate on all rows (SearchResult::model)
  // Identical (row, label) pairs of a training set are fitted as one row weighted by their number.
  bool collapse_duplicates = false;
  // Per feature: 0 numeric, else the number of category codes (the families read them natively or
  // one-hot encoded); empty: every feature numeric.
  std::vector<int> cardinality;
  // The number of classes (Classifier::set_classes) and, per class, whether it is a threat (the
  // binary-view metrics; empty: class 1 of two). K > 2 classes are scored by the verdict rule at 0.5.
  int classes = 2;
  std::vector<bool> threat;
  std::function<void(std::size_t done, std::size_t total)> progress;
};

struct CandidateResult {
  std::string family;
  nlohmann::json params;
  std::vector<double> fold_scores;
  double cv_mean = 0, cv_std = 0;
  double fit_seconds = 0;  // summed over folds (shared fits are split evenly)
  int budget_stage = 0;    // halving: the last stage this candidate reached
  // What the reported scores were computed with: {"rows": N} (training rows, all folds) and, for
  // staged families, {"n_estimators": R} (rounds; below the candidate's own value = a partial budget).
  nlohmann::json budget = nlohmann::json::object();
  nlohmann::json to_json() const;
};

struct SearchResult {
  std::vector<CandidateResult> candidates;  // every candidate evaluated
  std::size_t best = 0;                     // index into candidates
  std::vector<double> oof_proba;  // out-of-fold probabilities of the best candidate (predict_proba's layout)
  // The rows oof_proba holds probabilities for (sorted): every row under k folds (then empty), the
  // held-out share under SearchOptions::holdout (the other rows' entries are 0).
  std::vector<std::size_t> oof_rows;
  std::unique_ptr<Classifier> model;  // the best candidate fitted on all rows (opt.refit)
  double seconds = 0;
};

// Validation-fold index sets of a stratified k-fold split (shuffled with `seed`): every fold has
// each class in the proportion of the whole, sizes differ by at most one per class.
std::vector<std::vector<std::size_t>> stratified_kfold(const Labels& y, int k, std::uint64_t seed);

// The validation set of a stratified held-out share (as one "fold"): round(share x rows) of each
// class, at least one of a class of two rows or more and never all of them.
std::vector<std::vector<std::size_t>> stratified_holdout(const Labels& y, double share, std::uint64_t seed);

// Checks a search space before anything is fitted: known families and parameters, every value a
// number of its parameter's range (FamilyInfo::params; tree counts up to limits.max_trees), and at
// most limits.max_candidates candidates. A UsageError names the key (model_trainer.families.F.P),
// the range and the value.
void check_grid(const nlohmann::json& families, const GridLimits& limits);

// Expands {"family": {"param": [v1, v2], "other": v}, ...} into (family, params) candidates, after
// check_grid.
std::vector<std::pair<std::string, nlohmann::json>> expand_grid(const nlohmann::json& families,
                                                                const GridLimits& limits = {});

SearchResult search_models(const Matrix& X, const Labels& y, const nlohmann::json& families,
                           const SearchOptions& opt);

// A training set with identical (row, label) pairs merged: each kept row (first occurrence, in
// order) weighs the sum of the weights of its copies (1 each when `w` is empty).
struct Collapsed {
  Matrix X;
  Labels y;
  std::vector<float> w;
};
Collapsed collapse_duplicates(const Matrix& X, const Labels& y, const std::vector<float>& w);

// Sample weights that balance the classes (n / (classes present * n_class)), as scikit-learn's
// "balanced".
std::vector<float> balanced_weights(const Labels& y);

}  // namespace netsentry
