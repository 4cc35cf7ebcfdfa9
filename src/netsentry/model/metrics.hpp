#pragma once
// Classification metrics, as scikit-learn computes them. Binary: class 1 = positive. A model of K
// classes some of which are threats (model/decision.hpp) gets the binary view (threat vs benign:
// precision, recall, f1, roc_auc of P(threat), the confusion counts) and the K-class figures:
// accuracy (the verdict class right), per-class precision / recall / F1 / support, macro and
// weighted F1, the K x K confusion matrix and the macro one-vs-rest ROC AUC.
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netsentry/core/matrix.hpp"

namespace netsentry {

struct Metrics {
  double accuracy = 0, precision = 0, recall = 0, f1 = 0, roc_auc = 0;
  long tn = 0, fp = 0, fn = 0, tp = 0;  // confusion matrix
  std::size_t n = 0;
  // Over the classes (compute_class_metrics; a binary compute_metrics gives the two classes' macro
  // and weighted F1 too): macro / weighted F1, macro one-vs-rest ROC AUC (NaN when not computed).
  double macro_f1 = 0, weighted_f1 = 0, macro_roc_auc = std::numeric_limits<double>::quiet_NaN();
  // {"names": [...], "per_class": [{class, precision, recall, f1, support}], "confusion_matrix":
  // K x K (rows: true class, columns: predicted)}; null for a binary compute_metrics.
  nlohmann::json classes;

  nlohmann::json to_json() const;
  static Metrics from_json(const nlohmann::json& j);
  // The value of a named metric (kMetricNames).
  double get(const std::string& name) const;
};

// accuracy, precision, recall, f1, roc_auc (threat vs benign), macro_f1, weighted_f1, macro_roc_auc.
extern const std::vector<std::string> kMetricNames;

// ROC AUC with ties handled by average ranks (as sklearn.metrics.roc_auc_score); 0.5 with one class.
double roc_auc(const Labels& y, const std::vector<double>& score);
// All metrics for probabilities `p` with the decision `p >= threshold` (roc_auc, which sorts the
// scores, only when `with_auc`).
Metrics compute_metrics(const Labels& y, const std::vector<double>& p, double threshold = 0.5,
                        bool with_auc = true);
// Every metric of a model of K = proba.cols classes (`threat`: per class) whose rows are decided by
// the verdict rule at `threshold`; `names`: the classes' names (empty: their indices). Rows with
// y = -1 (unmapped) must be left out by the caller. The AUCs only when `with_auc`.
Metrics compute_class_metrics(const Labels& y, const Matrix& proba, const std::vector<bool>& threat,
                              double threshold, const std::vector<std::string>& names = {},
                              bool with_auc = true);

}  // namespace netsentry
