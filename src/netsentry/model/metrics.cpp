#include "netsentry/model/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "netsentry/model/decision.hpp"

namespace netsentry {

namespace {
double ratio(double a, double b) { return b == 0 ? 0.0 : a / b; }

// Macro and weighted F1 of the two classes of a binary confusion matrix (benign: class 0).
Metrics binary_class_figures(Metrics m) {
  const double tn = static_cast<double>(m.tn), fp = static_cast<double>(m.fp);
  const double fn = static_cast<double>(m.fn), tp = static_cast<double>(m.tp);
  const double p0 = ratio(tn, tn + fn), r0 = ratio(tn, tn + fp), f0 = ratio(2 * p0 * r0, p0 + r0);
  const double p1 = ratio(tp, tp + fp), r1 = ratio(tp, tp + fn), f1 = ratio(2 * p1 * r1, p1 + r1);
  const double n0 = tn + fp, n1 = tp + fn;
  // scikit-learn's labels: the classes present in the truth or the predictions.
  const bool has0 = n0 + fn > 0, has1 = n1 + fp > 0;
  const double present = static_cast<double>(has0) + static_cast<double>(has1);
  m.macro_f1 = ratio((has0 ? f0 : 0.0) + (has1 ? f1 : 0.0), present);
  m.weighted_f1 = ratio(f0 * n0 + f1 * n1, n0 + n1);
  return m;
}
}  // namespace

const std::vector<std::string> kMetricNames = {"accuracy", "precision", "recall",      "f1",
                                               "roc_auc",  "macro_f1",  "weighted_f1", "macro_roc_auc"};

nlohmann::json Metrics::to_json() const {
  nlohmann::json j = {{"accuracy", accuracy},
                      {"precision", precision},
                      {"recall", recall},
                      {"f1", f1},
                      {"roc_auc", roc_auc},
                      {"macro_f1", macro_f1},
                      {"weighted_f1", weighted_f1},
                      {"n", n},
                      {"confusion_matrix", {{"tn", tn}, {"fp", fp}, {"fn", fn}, {"tp", tp}}}};
  if (!std::isnan(macro_roc_auc)) j["macro_roc_auc"] = macro_roc_auc;
  if (!classes.is_null()) j["classes"] = classes;
  return j;
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
  if (j.contains("macro_f1")) {
    m.macro_f1 = j.value("macro_f1", 0.0);
    m.weighted_f1 = j.value("weighted_f1", 0.0);
  } else {  // written before the class figures: the two classes' from the confusion counts
    const Metrics b = binary_class_figures(m);
    m.macro_f1 = b.macro_f1, m.weighted_f1 = b.weighted_f1;
  }
  if (j.contains("macro_roc_auc")) m.macro_roc_auc = j.value("macro_roc_auc", 0.0);
  if (j.contains("classes")) m.classes = j["classes"];
  return m;
}

double Metrics::get(const std::string& name) const {
  if (name == "accuracy") return accuracy;
  if (name == "precision") return precision;
  if (name == "recall") return recall;
  if (name == "f1") return f1;
  if (name == "roc_auc") return roc_auc;
  if (name == "macro_f1") return macro_f1;
  if (name == "weighted_f1") return weighted_f1;
  if (name == "macro_roc_auc") return std::isnan(macro_roc_auc) ? roc_auc : macro_roc_auc;
  std::string known;
  for (const auto& k : kMetricNames) known += (known.empty() ? "" : ", ") + k;
  throw std::invalid_argument("unknown metric '" + name + "' (" + known + ")");
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
  return binary_class_figures(m);
}

Metrics compute_class_metrics(const Labels& y, const Matrix& proba, const std::vector<bool>& threat,
                              double threshold, const std::vector<std::string>& names, bool with_auc) {
  const std::size_t k = proba.cols;
  if (y.size() != proba.rows || threat.size() != k)
    throw std::logic_error("compute_class_metrics: labels, probabilities and classes disagree");
  const Decisions d = decide(proba, threat, threshold);
  // The binary view: threat vs benign.
  Metrics m = compute_metrics(threat_labels(y, threat), d.p_threat, threshold, with_auc);
  std::vector<std::vector<long>> cm(k, std::vector<long>(k, 0));
  for (std::size_t i = 0; i < y.size(); ++i)
    ++cm[static_cast<std::size_t>(y[i])][static_cast<std::size_t>(d.cls[i])];
  long right = 0;
  double macro = 0, weighted = 0;
  std::size_t present = 0;
  nlohmann::json per_class = nlohmann::json::array();
  std::vector<std::string> label(k);
  for (std::size_t c = 0; c < k; ++c) {
    label[c] = c < names.size() ? names[c] : std::to_string(c);
    long support = 0, predicted = 0;
    for (std::size_t o = 0; o < k; ++o) support += cm[c][o], predicted += cm[o][c];
    right += cm[c][c];
    const double tp = static_cast<double>(cm[c][c]);
    const double prec = ratio(tp, static_cast<double>(predicted)),
                 rec = ratio(tp, static_cast<double>(support));
    const double f = ratio(2 * prec * rec, prec + rec);
    if (support + predicted > 0) macro += f, ++present;  // scikit-learn: classes in truth or predictions
    weighted += f * static_cast<double>(support);
    per_class.push_back(
        {{"class", label[c]}, {"precision", prec}, {"recall", rec}, {"f1", f}, {"support", support}});
  }
  m.accuracy = ratio(static_cast<double>(right), static_cast<double>(y.size()));
  m.macro_f1 = ratio(macro, static_cast<double>(present));
  m.weighted_f1 = ratio(weighted, static_cast<double>(y.size()));
  if (with_auc) {  // one-vs-rest per class present with both sides, macro average
    double sum = 0;
    std::size_t scored = 0;
    Labels is_c(y.size());
    std::vector<double> score(y.size());
    for (std::size_t c = 0; c < k; ++c) {
      std::size_t pos = 0;
      for (std::size_t i = 0; i < y.size(); ++i) {
        is_c[i] = y[i] == static_cast<int>(c);
        pos += static_cast<std::size_t>(is_c[i]);
        score[i] = proba(i, c);
      }
      if (pos == 0 || pos == y.size()) continue;
      sum += roc_auc(is_c, score);
      ++scored;
    }
    m.macro_roc_auc = scored ? sum / static_cast<double>(scored) : 0.5;
  }
  m.classes = {{"names", label}, {"per_class", per_class}, {"confusion_matrix", cm}};
  return m;
}

}  // namespace netsentry
