#include "netsentry/evaluate/evaluation.hpp"

#include <spdlog/spdlog.h>

#include <cmath>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/model/metrics.hpp"
#include "netsentry/table/csv.hpp"

namespace netsentry {

using json = nlohmann::json;

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EvaluationArtifact, metrics_file, model_dir, test_metrics,
                                                train_metrics, accepted, reason)

json EvaluationArtifact::to_json() const { return *this; }

EvaluationArtifact run_evaluation(const PipelineConfig& cfg, const TransformationArtifact& data,
                                  const ModelTrainerArtifact& trained, const fs::path& stage_dir) {
  // The same run hands over the trained bundle and the validated test split in memory; otherwise
  // they are read from the trainer's folder and the split file.
  std::optional<ModelBundle> loaded;
  if (!trained.bundle) loaded = ModelBundle::load(trained.model_dir);
  ModelBundle& bundle = trained.bundle ? *trained.bundle : *loaded;
  std::shared_ptr<const Table> test_ptr = data.data ? data.data->raw.test : nullptr;
  if (!test_ptr) {
    CsvOptions co;
    co.missing_values = cfg.data.missing_values;
    test_ptr = std::make_shared<const Table>(read_csv(data.raw_test, co));
  }
  const Table& test = *test_ptr;
  // Binary metrics of the threat class; test rows whose label no class knows are left out, counted.
  const LabelledMetrics lm = bundle.metrics_on(test);
  const Metrics& m = lm.metrics;

  EvaluationArtifact a;
  a.test_metrics = m.to_json();
  a.train_metrics = trained.train_metrics;
  const std::string metric =
      !trained.metric.empty() ? trained.metric : cfg.model_trainer.metric_for(bundle.classes().size());
  const double test_score = m.get(metric);
  const double train_score = Metrics::from_json(trained.train_metrics).get(metric);
  const double gap = train_score - test_score;
  char buf[512];
  if (test_score < cfg.model_trainer.expected_score) {
    std::snprintf(buf, sizeof buf, "test %s %.4f is below the expected score %.4f", metric.c_str(),
                  test_score, cfg.model_trainer.expected_score);
    a.reason = buf;
  } else if (std::abs(gap) > cfg.model_trainer.overfitting_threshold) {
    std::snprintf(buf, sizeof buf, "%s: train %s %.4f vs test %.4f differ by %.4f > threshold %.4f",
                  gap > 0 ? "over-fitting" : "under-fitting", metric.c_str(), train_score, test_score,
                  std::abs(gap), cfg.model_trainer.overfitting_threshold);
    a.reason = buf;
  } else {
    std::snprintf(buf, sizeof buf, "test %s %.4f >= expected %.4f; train/test gap %.4f <= %.4f",
                  metric.c_str(), test_score, cfg.model_trainer.expected_score, std::abs(gap),
                  cfg.model_trainer.overfitting_threshold);
    a.reason = buf;
    a.accepted = true;
  }
  a.metrics_file = stage_dir / "metrics.json";
  json unmapped = json::object();
  for (auto& [v, n] : lm.unmapped_values) unmapped[v] = n;
  json report = {{"test", a.test_metrics},
                 {"scored_class", bundle.classes().threat_classes()},
                 {"classes", bundle.classes().to_json()},
                 {"unmapped_test_rows", lm.unmapped},
                 {"unmapped_test_values", unmapped},
                 {"train", a.train_metrics},
                 {"metric", metric},
                 {"gate",
                  {{"accepted", a.accepted},
                   {"reason", a.reason},
                   {"expected_score", cfg.model_trainer.expected_score},
                   {"overfitting_threshold", cfg.model_trainer.overfitting_threshold},
                   {"train_score", train_score},
                   {"test_score", test_score}}}};
  write_file_atomic(a.metrics_file, report.dump(2));
  if (lm.unmapped)
    spdlog::warn("evaluate: {} test rows have a target value no class knows; left out of the metrics",
                 lm.unmapped);
  if (bundle.classes().binary())
    spdlog::info("evaluate: threat class '{}': test accuracy {:.4f} f1 {:.4f} roc_auc {:.4f}; gate: {}",
                 bundle.classes().threat_classes().front(), m.accuracy, m.f1, m.roc_auc, a.reason);
  else
    spdlog::info(
        "evaluate: {} classes: test accuracy {:.4f} macro f1 {:.4f} macro roc_auc {:.4f}; threat vs benign "
        "f1 "
        "{:.4f} roc_auc {:.4f}; gate: {}",
        bundle.classes().size(), m.accuracy, m.macro_f1, m.get("macro_roc_auc"), m.f1, m.roc_auc, a.reason);
  if (!a.accepted) throw GateError(a.reason + " (report: " + a.metrics_file.string() + ")");

  bundle.metadata()["metrics"] = report;
  a.model_dir = stage_dir / "evaluated_model";
  bundle.save_copy_of(trained.model_dir, a.model_dir);
  write_file_atomic(stage_dir / "artifact.json", a.to_json().dump(2));
  return a;
}

}  // namespace netsentry
