#pragma once
// A thin RAII wrapper over XGBoost's C API (libxgboost): DMatrix and Booster handles, training,
// prediction (probabilities, SHAP contributions), JSON model files. Used by the XGBoost families.
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "netsentry/core/matrix.hpp"
#include "netsentry/model/flat_forest.hpp"

namespace netsentry::xgb {

// Throws std::runtime_error with XGBoost's last error when rc != 0.
void check(int rc, const char* what);

class DMatrix {
 public:
  DMatrix(const Matrix& X, const Labels* y = nullptr, const std::vector<float>* w = nullptr,
          const std::vector<std::string>& feature_types = {});
  ~DMatrix();
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;
  void* handle() const { return h_; }

 private:
  void* h_ = nullptr;
};

// A training matrix quantised once for the hist tree method (XGBoost's QuantileDMatrix, default
// max_bin): boosters trained on it share its histogram index instead of each building their own.
class QuantileDMatrix {
 public:
  // `feature_types`: XGBoost's "q" (numeric) / "c" (category codes) per column; empty: all numeric.
  QuantileDMatrix(const Matrix& X, const Labels& y, const std::vector<float>* w = nullptr,
                  const std::vector<std::string>& feature_types = {});
  ~QuantileDMatrix();
  QuantileDMatrix(const QuantileDMatrix&) = delete;
  QuantileDMatrix& operator=(const QuantileDMatrix&) = delete;
  void* handle() const { return h_; }

 private:
  void* h_ = nullptr;
};

class Booster {
 public:
  Booster();
  ~Booster();
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;

  void set_params(const std::map<std::string, std::string>& params);
  void train(const Matrix& X, const Labels& y, const std::vector<float>* w, int rounds,
             const std::vector<std::string>& feature_types = {});
  // Trains on a DMatrix handle (DMatrix or QuantileDMatrix) the caller keeps alive during the call.
  void train(void* dmatrix, int rounds);
  // P(class 1) by XGBoost's own predictor; iteration_end = 0 means all rounds.
  std::vector<double> predict_proba(const Matrix& X, int iteration_end = 0) const;
  // The trees compiled for fast prediction (FlatForest: the same probabilities), built on first use
  // and kept until the model changes; null when FlatForest does not cover the model (gblinear).
  const FlatForest* compiled() const;
  // rows x (features + 1) SHAP contributions (margin units), by XGBoost; last column is the bias.
  // approximate: XGBoost's approximate contributions (path attributions: Saabas) instead.
  Matrix contributions(const Matrix& X, bool approximate = false) const;
  // The same shape, path attributions (XGBoost's approximate contributions: Saabas), which add up
  // to the margin as SHAP values do, at a fraction of the cost on deep trees; by FlatForest when it
  // covers the model, else by XGBoost.
  Matrix path_contributions(const Matrix& X) const;
  // Gain importance per feature index ("f0", "f1", ...); 0 for features never used.
  std::vector<double> importance(std::size_t n_features, const char* type = "total_gain") const;
  void save(const std::filesystem::path& file) const;  // .json -> XGBoost's JSON model format
  // The model document in memory: format "json" (as save writes it) or "ubj" (the same in UBJSON).
  std::string serialize(const char* format = "json") const;
  void load(const std::filesystem::path& file);
  int rounds() const;
  // Keeps only the first `n` boosting rounds (XGBoost's model slicing).
  void keep_first(int n);

 private:
  void create(void* const* cache, std::size_t n);
  const Booster& ready() const;
  void* h_ = nullptr;
  std::map<std::string, std::string> params_;
  mutable std::atomic<bool> inplace_{true};
  struct Compiled {
    std::once_flag once;
    std::unique_ptr<const FlatForest> forest;
  };
  mutable std::unique_ptr<Compiled> compiled_ = std::make_unique<Compiled>();  // reset when h_ changes
};

}  // namespace netsentry::xgb
