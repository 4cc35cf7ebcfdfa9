#pragma once
// The log-odds that explanations decompose. Probabilities are clamped to [kLogOddsEpsilon,
// 1 - kLogOddsEpsilon] first, so that a certain prediction (a unanimous k-NN vote, p = 0 or 1) has
// finite log-odds (about ±13.8). The OpenCV families' contributions() sum to clamped_logit(p) of
// their own predict_proba; XGBoost's SHAP values sum to the raw margin, which equals clamped_logit(p)
// whenever p is inside the clamp.
#include <algorithm>
#include <cmath>

namespace netsentry {

inline constexpr double kLogOddsEpsilon = 1e-6;

inline double clamped_logit(double p) {
  p = std::clamp(p, kLogOddsEpsilon, 1.0 - kLogOddsEpsilon);
  return std::log(p / (1.0 - p));
}

}  // namespace netsentry
