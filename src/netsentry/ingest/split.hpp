#pragma once
// Train/test splitting: seeded, stratified by class; optionally duplicate-aware (identical feature
// rows always land on the same side, so the test set holds no copies of training rows); or by time
// (the latest rows test).
#include <cstdint>
#include <vector>

#include "netsentry/core/matrix.hpp"

namespace netsentry {

struct SplitIndices {
  std::vector<std::size_t> train, test;  // sorted row indices (time_split: in time order)
};

SplitIndices stratified_split(const Labels& y, double test_ratio, std::uint64_t seed);
// `X` gives the feature rows that define duplicates (NaN equals NaN).
SplitIndices duplicate_aware_split(const Matrix& X, const Labels& y, double test_ratio, std::uint64_t seed);
// Rows ordered by `times` (stable: equal times keep their order), the latest round(n * test_ratio)
// (at least one, and one row short of all) the test split, the earlier ones the training split.
SplitIndices time_split(const std::vector<double>& times, double test_ratio);
// Number of rows that are an exact copy of an earlier row (features and label).
std::size_t count_duplicate_rows(const Matrix& X, const Labels& y);

}  // namespace netsentry
