#pragma once
// Categorical features as codes, fitted on the training split only and saved with the model.
//
// Each categorical feature keeps the categories seen in training, in sorted order, as codes 0..m-1;
// categories seen fewer than `min_frequency` times, and beyond the `max_categories - 1` most frequent
// ones, share one more code, "other" (scikit-learn OneHotEncoder's infrequent category, chosen the
// same way). A value never seen in training, and a missing one, is NaN: missing for the models that
// read codes (XGBoost's categorical splits), no column at all for one-hot. Numeric features pass
// through as numbers.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "netsentry/core/matrix.hpp"
#include "netsentry/table/table.hpp"

namespace netsentry {

struct CategoricalOptions {
  std::size_t max_categories = 64;  // codes per feature, "other" included (>= 2)
  std::size_t min_frequency = 5;    // rarer training categories go to "other"
};

// What encoding a table met: values of categorical features that training never saw.
struct UnseenCategories {
  std::map<std::string, std::size_t> per_feature;  // feature -> rows with an unseen value
  std::size_t total = 0;
  void add(const UnseenCategories& o);
  // "service: 3, flag: 1"
  std::string describe() const;
};

class CategoricalEncoder {
 public:
  static constexpr const char* kOther = "(other)";

  // Learns the categories of the `categorical` features among `features` from the training rows.
  void fit(const Table& train, const std::vector<std::string>& features,
           const std::vector<std::string>& categorical, const CategoricalOptions& opt = {});
  // An encoder of numeric features only (models without categorical features).
  static CategoricalEncoder numeric(const std::vector<std::string>& features);
  // The feature matrix of `t` (feature order): numbers, or codes (NaN: missing or unseen). DataError
  // naming the file, row and column for a missing column or a non-number in a numeric feature.
  Matrix encode(const Table& t, UnseenCategories* unseen = nullptr) const;
  // The code of one categorical value; NaN when missing or unseen.
  double code(std::size_t feature, std::string_view value) const;

  const std::vector<std::string>& features() const { return features_; }
  bool any_categorical() const;
  bool categorical(std::size_t feature) const { return !cols_[feature].categories.empty(); }
  // Per feature: the number of codes (0: numeric).
  std::vector<int> cardinality() const;
  // Code -> name ("http", or kOther), empty for a numeric feature.
  const std::vector<std::string>& categories(std::size_t feature) const { return cols_[feature].categories; }
  // The name of a code ("" for NaN or a numeric feature).
  std::string value_name(std::size_t feature, double code) const;

  nlohmann::json to_json() const;
  static CategoricalEncoder from_json(const nlohmann::json& j);  // DataError when malformed

 private:
  struct Col {
    std::vector<std::string> categories;  // by code; the last is kOther when `other`
    bool other = false;
    std::unordered_map<std::string, int> code;  // training value -> code (infrequent ones -> other)
  };
  std::vector<std::string> features_;
  std::vector<Col> cols_;
  CategoricalOptions opt_;
};

}  // namespace netsentry
