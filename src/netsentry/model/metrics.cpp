#include "netsentry/model/metrics.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace netsentry {

nlohmann::json Metrics::to_json() const {
  return {{"accuracy", accuracy},
          {"precision", precision},
          {"recall", recall},
          {"f1", f1},
          {"roc_auc", roc_auc},
          {"n", n},
          {"confusion_matrix", {{"tn", tn}, {"fp", fp}, {"fn", fn}, {"tp", tp}}}};
}

Metrics Metrics::from_json(const nlohmann::json& j) {
  Metrics m;
  m.accuracy = j.value("accuracy", 0.0);
  m.precision = j.value("precision", 0.0);
  m.recall = j.value("recall", 0.0);
  m.f1 = j.value("f1", 0.0);
  m.roc_auc = j.value("roc_auc", 0.0);
  m.n = j.value("n", std::size_t{0});
  if (j.contains("confusion_matrix")) {
    auto& c = j["confusion_matrix"];
    m.tn = c.value("tn", 0L);
    m.fp = c.value("fp", 0L);
    m.fn = c.value("fn", 0L);
    m.tp = c.value("tp", 0L);
  }
  return m;
}

double Metrics::get(const std::string& name) const {
  if (name == "accuracy") return accuracy;
  if (name == "precision") return precision;
  if (name == "recall") return recall;
  if (name == "f1") return f1;
  if (name == "roc_auc") return roc_auc;
  throw std::invalid_argument("unknown metric '" + name + "' (accuracy, precision, recall, f1, roc_auc)");
}

double roc_auc(const Labels& y, const std::vector<double>& score) {
  const std::size_t n = y.size();
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](auto a, auto b) { return score[a] < score[b]; });
  double rank_sum_pos = 0;
  std::size_t npos = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && score[idx[j]] == score[idx[i]]) ++j;
    double avg_rank = (static_cast<double>(i) + static_cast<double>(j) + 1.0) / 2.0;  // 1-based average
    for (std::size_t k = i; k < j; ++k)
      if (y[idx[k]] == 1) {
        rank_sum_pos += avg_rank;
        ++npos;
      }
    i = j;
  }
  const std::size_t nneg = n - npos;
  if (npos == 0 || nneg == 0) return 0.5;
  const double np = static_cast<double>(npos), nn = static_cast<double>(nneg);
  return (rank_sum_pos - np * (np + 1) / 2.0) / (np * nn);
}

Metrics compute_metrics(const Labels& y, const std::vector<double>& p, double threshold, bool with_auc) {
  Metrics m;
  m.n = y.size();
  for (std::size_t i = 0; i < y.size(); ++i) {
    const bool pred = p[i] >= threshold;
    if (y[i] == 1)
      pred ? ++m.tp : ++m.fn;
    else
      pred ? ++m.fp : ++m.tn;
  }
  auto div = [](double a, double b) { return b == 0 ? 0.0 : a / b; };
  m.accuracy = div(static_cast<double>(m.tp + m.tn), static_cast<double>(m.n));
  m.precision = div(static_cast<double>(m.tp), static_cast<double>(m.tp + m.fp));
  m.recall = div(static_cast<double>(m.tp), static_cast<double>(m.tp + m.fn));
  m.f1 = div(2.0 * m.precision * m.recall, m.precision + m.recall);
  if (with_auc) m.roc_auc = roc_auc(y, p);
  return m;
}

}  // namespace netsentry
