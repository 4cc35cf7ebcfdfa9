#pragma once
// SMOTE oversampling (Chawla et al. 2002), as imbalanced-learn's SMOTE with the default strategy:
// the minority class is grown to the majority's size with points interpolated between a minority
// sample and one of its k nearest minority neighbours (nanoflann KD-tree). Deterministic per seed.
// Input must have no NaN (impute first). Returns the original rows followed by the synthetic ones.
#include <cstdint>

#include "netsentry/core/matrix.hpp"

namespace netsentry {

struct Resampled {
  Matrix X;
  Labels y;
};

Resampled smote(const Matrix& X, const Labels& y, int k_neighbors, std::uint64_t seed);

}  // namespace netsentry
