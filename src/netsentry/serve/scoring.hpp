#pragma once
// Scoring a request's feature matrix: the model's predictions and, when asked and the model can,
// each row's feature contributions; and what the answers read from them (the verdict's probability,
// a row's strongest reasons).
#include <cstddef>
#include <optional>
#include <vector>

#include "netsentry/core/matrix.hpp"
#include "netsentry/serve/model_store.hpp"

namespace netsentry::serve {

struct Scores {
  Scored scored;
  std::optional<Matrix> contributions;  // rows x (features + 1), when explained
};
Scores run_model(const LoadedModel& m, const Matrix& X, bool explain);

// The probability of the class predicted for row r.
double verdict_probability(const Scored& s, std::size_t r);

// Into idx: the indices of row r's top_k features by |contribution| (non-zero only), largest first.
void top_reasons(const Matrix& contrib, std::size_t r, std::size_t nf, int top_k,
                 std::vector<std::size_t>& idx);

}  // namespace netsentry::serve
