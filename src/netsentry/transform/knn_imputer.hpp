#pragma once
// KNN imputation of missing values (NaN), with scikit-learn KNNImputer's semantics:
// NaN-aware Euclidean distance, k donors among training rows that have the column, uniform or
// distance weights; a missing cell with no usable donor gets the training column mean; a column
// entirely missing in training is kept and set to 0 (sklearn's keep_empty_features=True; see .cpp).
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "netsentry/core/matrix.hpp"

namespace netsentry {

class KnnImputer {
 public:
  explicit KnnImputer(int n_neighbors = 3, std::string weights = "uniform");
  void fit(const Matrix& X);                // learns only from X (the training split)
  Matrix transform(const Matrix& X) const;  // never learns; rows without NaN are copied as they are
  nlohmann::json to_json() const;           // data only: parameters and the training rows
  static KnnImputer from_json(const nlohmann::json& j);

  int n_neighbors() const { return k_; }
  const std::string& weights() const { return weights_; }

 private:
  int k_;
  std::string weights_;
  Matrix fit_X_;
  std::vector<double> col_means_;  // fallback when no donor exists
  // Derived from fit_X_ (never saved): values with NaN replaced by 0, and 1/0 presence masks, so the
  // distance loop has no branches.
  Matrix fit_zero_, fit_present_;
};

}  // namespace netsentry
