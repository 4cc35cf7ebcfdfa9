// RobustScaler with scikit-learn's semantics (with_centering, with_scaling, quantile_range (25, 75)):
// center = median, scale = 75th - 25th percentile, both with numpy's default 'linear' percentile
// (virtual index q (n-1) over the sorted non-missing values). A scale below 10 machine epsilons is
// replaced by 1, as sklearn's _handle_zeros_in_scale does. NaN is ignored when fitting and stays
// NaN when transforming. Divergence: a column with no value at all in training gets center 0 and
// scale 1 (sklearn would learn NaN and turn the whole column into NaN).
#include "netsentry/transform/robust_scaler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "netsentry/core/error.hpp"

namespace netsentry {
namespace {

// Percentile q in [0, 1] of sorted values, linear interpolation between closest ranks. The
// interpolation is written as numpy's lerp is (from the nearer end), so results agree to the last bit.
double percentile_sorted(const std::vector<double>& s, double q) {
  const double pos = q * static_cast<double>(s.size() - 1);
  const double lo_f = std::floor(pos);
  const auto lo = static_cast<std::size_t>(lo_f);
  const std::size_t hi = std::min(lo + 1, s.size() - 1);
  const double t = pos - lo_f;
  const double a = s[lo], b = s[hi], diff = b - a;
  return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

}  // namespace

void RobustScaler::fit(const Matrix& X) {
  center_.assign(X.cols, 0.0);
  scale_.assign(X.cols, 1.0);
  std::vector<double> col;
  col.reserve(X.rows);
  for (std::size_t c = 0; c < X.cols; ++c) {
    col.clear();
    for (std::size_t r = 0; r < X.rows; ++r) {
      const double v = X(r, c);
      if (!std::isnan(v)) col.push_back(v);
    }
    if (col.empty()) continue;  // no information: identity on this column
    std::sort(col.begin(), col.end());
    const std::size_t n = col.size();
    // Median as numpy computes it: the middle value, or the mean of the two middle values.
    center_[c] = (n % 2) ? col[n / 2] : (col[n / 2 - 1] + col[n / 2]) / 2.0;
    const double iqr = percentile_sorted(col, 0.75) - percentile_sorted(col, 0.25);
    scale_[c] = (iqr < 10 * std::numeric_limits<double>::epsilon()) ? 1.0 : iqr;
  }
}

Matrix RobustScaler::transform(const Matrix& X) const {
  if (X.cols != center_.size())
    throw DataError("robust scaler was fitted on " + std::to_string(center_.size()) + " columns, got " +
                    std::to_string(X.cols));
  Matrix out = X;
  for (std::size_t r = 0; r < X.rows; ++r)
    for (std::size_t c = 0; c < X.cols; ++c) out(r, c) = (X(r, c) - center_[c]) / scale_[c];
  return out;
}

nlohmann::json RobustScaler::to_json() const { return {{"center", center_}, {"scale", scale_}}; }

RobustScaler RobustScaler::from_json(const nlohmann::json& j) {
  RobustScaler s;
  try {
    s.center_ = j.at("center").get<std::vector<double>>();
    s.scale_ = j.at("scale").get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    throw DataError(std::string("robust scaler: malformed JSON: ") + e.what());
  }
  if (s.center_.size() != s.scale_.size())
    throw DataError("robust scaler: 'center' and 'scale' differ in length");
  for (std::size_t c = 0; c < s.scale_.size(); ++c)
    if (!std::isfinite(s.center_[c]) || !std::isfinite(s.scale_[c]) || s.scale_[c] == 0.0)
      throw DataError("robust scaler: column " + std::to_string(c) +
                      " has a non-finite center or a zero scale");
  return s;
}

}  // namespace netsentry
