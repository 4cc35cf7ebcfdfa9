#pragma once
// Binary classification metrics (class 1 = positive), as scikit-learn computes them.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netsentry/core/matrix.hpp"

namespace netsentry {

struct Metrics {
  double accuracy = 0, precision = 0, recall = 0, f1 = 0, roc_auc = 0;
  long tn = 0, fp = 0, fn = 0, tp = 0;  // confusion matrix
  std::size_t n = 0;

  nlohmann::json to_json() const;
  static Metrics from_json(const nlohmann::json& j);
  // The value of a named metric: "accuracy", "f1", "precision", "recall", "roc_auc".
  double get(const std::string& name) const;
};

// ROC AUC with ties handled by average ranks (as sklearn.metrics.roc_auc_score); 0.5 with one class.
double roc_auc(const Labels& y, const std::vector<double>& score);
// All metrics for probabilities `p` with the decision `p >= threshold` (roc_auc, which sorts the
// scores, only when `with_auc`).
Metrics compute_metrics(const Labels& y, const std::vector<double>& p, double threshold = 0.5,
                        bool with_auc = true);

}  // namespace netsentry
