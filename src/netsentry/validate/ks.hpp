#pragma once
// Two-sample Kolmogorov-Smirnov test (two-sided), as scipy.stats.ks_2samp.
#include <span>
#include <vector>

#include "netsentry/core/matrix.hpp"

namespace netsentry {

struct KsResult {
  double statistic = 0;  // D = sup |F_a - F_b|
  double p_value = 1;
};

// NaN values are ignored. Either sample empty -> statistic 0, p-value 1.
KsResult ks_2samp(std::span<const double> a, std::span<const double> b);

// ks_2samp of column c of `a` against column c of `b`, for every column, spread over the worker pool
// (core/parallel.hpp; each column is computed exactly as ks_2samp does). Throws std::invalid_argument
// when the column counts differ.
std::vector<KsResult> ks_2samp_columns(const Matrix& a, const Matrix& b);

}  // namespace netsentry
