#include "netsentry/serve/scoring.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace netsentry::serve {

Scores run_model(const LoadedModel& m, const Matrix& X, bool explain) {
  Scores s;
  s.scored = m.bundle.score(X);
  if (s.scored.label.size() != X.rows || s.scored.probability.size() != X.rows)
    throw std::runtime_error("the model answered a wrong number of predictions");
  if (explain && m.can_explain) {
    s.contributions = m.bundle.explain(X, m.attribution);
    if (s.contributions && (s.contributions->rows != X.rows || s.contributions->cols < m.features.size()))
      s.contributions.reset();
  }
  return s;
}

// Indices of the top_k features by |contribution| (non-zero only), largest first.
void top_reasons(const Matrix& contrib, std::size_t r, std::size_t nf, int top_k,
                 std::vector<std::size_t>& idx) {
  idx.clear();
  auto row = contrib.row(r);
  for (std::size_t c = 0; c < nf; ++c)
    if (row[c] != 0.0 && std::isfinite(row[c])) idx.push_back(c);
  const std::size_t k = std::min<std::size_t>(idx.size(), static_cast<std::size_t>(std::max(top_k, 0)));
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(),
                    [&](std::size_t a, std::size_t b) { return std::fabs(row[a]) > std::fabs(row[b]); });
  idx.resize(k);
}

double verdict_probability(const Scored& s, std::size_t r) {
  return s.class_probability(r, static_cast<std::size_t>(s.label[r]));
}

}  // namespace netsentry::serve
