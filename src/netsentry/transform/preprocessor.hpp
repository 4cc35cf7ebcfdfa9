#pragma once
// The fitted preprocessing chain saved with the model: the categorical encoder (a table's features
// as numbers and category codes), the KNN imputer, then an optional robust scaler; the imputer and
// the scaler see the numeric features only (a missing or unseen category stays missing). (SMOTE
// resamples training data only, so it is part of training, not of the saved chain.)
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "netsentry/core/matrix.hpp"
#include "netsentry/table/table.hpp"
#include "netsentry/transform/categorical_encoder.hpp"
#include "netsentry/transform/knn_imputer.hpp"
#include "netsentry/transform/robust_scaler.hpp"

namespace netsentry {

struct PreprocessorOptions {
  int knn_neighbors = 3;
  std::string knn_weights = "uniform";
  bool robust_scaler = false;
  CategoricalOptions categorical;
};

class Preprocessor {
 public:
  explicit Preprocessor(PreprocessorOptions opt = {});
  // Learns the categories of the `categorical` features from the training rows, and returns their
  // encoded matrix (what fit() then takes). Without it every feature is numeric.
  Matrix fit_encoding(const Table& train, const std::vector<std::string>& features,
                      const std::vector<std::string>& categorical);
  // Names the features of a preprocessor fitted on a matrix alone, or read from a file without an
  // encoder: every feature numeric. No-op when the encoder already has these features.
  void name_features(const std::vector<std::string>& features);
  // A table's features as the model reads them before imputation (numbers, category codes).
  Matrix encode(const Table& t, UnseenCategories* unseen = nullptr) const;
  const CategoricalEncoder& encoder() const { return encoder_; }
  // Per feature: 0 numeric, else the number of category codes (empty: every feature numeric).
  std::vector<int> cardinality() const;
  void fit(const Matrix& X);  // training rows only (encoded)
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
  CategoricalEncoder encoder_;
  std::vector<std::size_t> numeric_;  // the numeric features' columns, when some are categorical
  KnnImputer imputer_;
  std::optional<RobustScaler> scaler_;
  std::size_t n_features_ = 0;
};

}  // namespace netsentry
