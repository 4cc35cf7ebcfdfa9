#pragma once
// The fitted preprocessing chain saved with the model: KNN imputer, then an optional robust scaler.
// (SMOTE resamples training data only, so it is part of training, not of the saved chain.)
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "netsentry/core/matrix.hpp"
#include "netsentry/transform/knn_imputer.hpp"
#include "netsentry/transform/robust_scaler.hpp"

namespace netsentry {

struct PreprocessorOptions {
  int knn_neighbors = 3;
  std::string knn_weights = "uniform";
  bool robust_scaler = false;
};

class Preprocessor {
 public:
  explicit Preprocessor(PreprocessorOptions opt = {});
  void fit(const Matrix& X);  // training rows only
  Matrix transform(const Matrix& X) const;
  Matrix fit_transform(const Matrix& X) {
    fit(X);
    return transform(X);
  }
  nlohmann::json to_json() const;
  static Preprocessor from_json(const nlohmann::json& j);  // throws DataError on a malformed file
  const PreprocessorOptions& options() const { return opt_; }

 private:
  PreprocessorOptions opt_;
  KnnImputer imputer_;
  std::optional<RobustScaler> scaler_;
  std::size_t n_features_ = 0;
};

}  // namespace netsentry
