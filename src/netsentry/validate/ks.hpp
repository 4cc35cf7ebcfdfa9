#pragma once
// Two-sample Kolmogorov-Smirnov test (two-sided), as scipy.stats.ks_2samp.
#include <span>

namespace netsentry {

struct KsResult {
  double statistic = 0;  // D = sup |F_a - F_b|
  double p_value = 1;
};

// NaN values are ignored. Either sample empty -> statistic 0, p-value 1.
KsResult ks_2samp(std::span<const double> a, std::span<const double> b);

}  // namespace netsentry
