#pragma once
// Train/test splitting: seeded, stratified by class; optionally duplicate-aware (identical feature
// rows always land on the same side, so the test set holds no copies of training rows).
#include <cstdint>
#include <vector>

#include "netsentry/core/matrix.hpp"

namespace netsentry {

struct SplitIndices {
  std::vector<std::size_t> train, test;  // sorted row indices
};

SplitIndices stratified_split(const Labels& y, double test_ratio, std::uint64_t seed);
// `X` gives the feature rows that define duplicates (NaN equals NaN).
SplitIndices duplicate_aware_split(const Matrix& X, const Labels& y, double test_ratio, std::uint64_t seed);
// Number of rows that are an exact copy of an earlier row (features and label).
std::size_t count_duplicate_rows(const Matrix& X, const Labels& y);

}  // namespace netsentry
