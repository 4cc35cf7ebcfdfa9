#include "netsentry/model/decision.hpp"

#include <stdexcept>

namespace netsentry {

namespace {
void check_width(const Matrix& proba, const std::vector<bool>& threat) {
  if (proba.cols != threat.size())
    throw std::logic_error("decision: " + std::to_string(proba.cols) + " class probabilities for " +
                           std::to_string(threat.size()) + " classes");
}
}  // namespace

std::vector<double> threat_probability(const Matrix& proba, const std::vector<bool>& threat) {
  check_width(proba, threat);
  std::vector<double> p(proba.rows, 0.0);
  for (std::size_t i = 0; i < proba.rows; ++i)
    for (std::size_t c = 0; c < proba.cols; ++c)
      if (threat[c]) p[i] += proba(i, c);
  return p;
}

Decisions decide(const Matrix& proba, const std::vector<bool>& threat, double threshold) {
  Decisions d;
  d.p_threat = threat_probability(proba, threat);
  d.cls.resize(proba.rows);
  for (std::size_t i = 0; i < proba.rows; ++i) {
    const bool is_threat = d.p_threat[i] >= threshold;
    int best = -1;
    for (std::size_t c = 0; c < proba.cols; ++c)
      if (threat[c] == is_threat && (best < 0 || proba(i, c) > proba(i, static_cast<std::size_t>(best))))
        best = static_cast<int>(c);
    d.cls[i] = best;
  }
  return d;
}

Labels threat_labels(const Labels& y, const std::vector<bool>& threat) {
  Labels out(y.size());
  for (std::size_t i = 0; i < y.size(); ++i)
    out[i] = y[i] < 0 ? -1 : (threat.at(static_cast<std::size_t>(y[i])) ? 1 : 0);
  return out;
}

Labels most_probable(const Matrix& proba) {
  Labels out(proba.rows, 0);
  for (std::size_t i = 0; i < proba.rows; ++i) {
    std::size_t best = 0;
    for (std::size_t c = 1; c < proba.cols; ++c)
      if (proba(i, c) > proba(i, best)) best = c;
    out[i] = static_cast<int>(best);
  }
  return out;
}

}  // namespace netsentry
