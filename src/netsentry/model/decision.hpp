#pragma once
// The decision of a model of K >= 2 classes, some of them threats (the verdict rule):
// P(threat) is the sum of the threat classes' probabilities; a row is a threat when P(threat) >= the
// threshold, and then of the most probable threat class, otherwise of the most probable benign class.
// For two classes this is `P(threat) >= threshold`, whichever index the threat has.
#include <vector>

#include "netsentry/core/matrix.hpp"

namespace netsentry {

struct Decisions {
  Labels cls;                    // the verdict class of each row
  std::vector<double> p_threat;  // P(threat) of each row
};

// `proba`: rows x K class probabilities; `threat`: per class, whether it is a threat.
std::vector<double> threat_probability(const Matrix& proba, const std::vector<bool>& threat);
Decisions decide(const Matrix& proba, const std::vector<bool>& threat, double threshold);
// 1 where the class is a threat, 0 where benign (-1 stays -1: an unmapped row).
Labels threat_labels(const Labels& y, const std::vector<bool>& threat);
// The most probable class of each row (ties: the lower index).
Labels most_probable(const Matrix& proba);

}  // namespace netsentry
