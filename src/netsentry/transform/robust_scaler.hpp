#pragma once
// Robust scaling as scikit-learn's RobustScaler: (x - median) / IQR (25th-75th percentile, linear
// interpolation), NaN ignored when fitting and kept as NaN; a zero IQR scales by 1.
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "netsentry/core/matrix.hpp"

namespace netsentry {

class RobustScaler {
 public:
  void fit(const Matrix& X);
  Matrix transform(const Matrix& X) const;
  nlohmann::json to_json() const;
  static RobustScaler from_json(const nlohmann::json& j);

  const std::vector<double>& center() const { return center_; }
  const std::vector<double>& scale() const { return scale_; }

 private:
  std::vector<double> center_, scale_;
};

}  // namespace netsentry
