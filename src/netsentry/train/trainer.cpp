#include "netsentry/train/trainer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/model/classifier.hpp"
#include "netsentry/model/decision.hpp"
#include "netsentry/model/metrics.hpp"
#include "netsentry/model/search.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/table/csv.hpp"
#include "netsentry/transform/preprocessor.hpp"
#include "netsentry/transform/smote.hpp"

namespace netsentry {

using json = nlohmann::json;

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ModelTrainerArtifact, model_dir, candidates, family, params,
                                                metric, cv_score, threshold, train_metrics)

json ModelTrainerArtifact::to_json() const { return *this; }
ModelTrainerArtifact ModelTrainerArtifact::from_json(const json& j) { return j.get<ModelTrainerArtifact>(); }

double choose_threshold(const Labels& y, const std::vector<double>& p, const ThresholdSettings& spec) {
  const std::string& strategy = spec.strategy;
  if (strategy == "fixed") return spec.value;
  std::vector<double> cuts = p;
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  if (strategy == "max_f1") {
    double best_t = 0.5, best = -1;
    for (double t : cuts) {
      double f = compute_metrics(y, p, t, false).f1;
      if (f > best + 1e-12) best = f, best_t = t;
    }
    return best_t;
  }
  if (strategy == "max_fpr") {
    const double max_fpr = spec.max_fpr;
    for (double t : cuts) {  // ascending: the first threshold that satisfies the FPR bound
      auto m = compute_metrics(y, p, t, false);
      double fpr = (m.fp + m.tn) ? static_cast<double>(m.fp) / static_cast<double>(m.fp + m.tn) : 0.0;
      if (fpr <= max_fpr) return t;
    }
    return 1.0;
  }
  throw UsageError("model_trainer.threshold.strategy must be fixed, max_f1 or max_fpr, not '" + strategy +
                   "'");
}

namespace {
void split_xy(const Table& t, const std::vector<std::string>& features, Matrix& X, Labels& y) {
  X = t.to_matrix(features);
  const auto& c = t.at("class").num;
  y.assign(c.size(), 0);
  for (std::size_t i = 0; i < c.size(); ++i) y[i] = static_cast<int>(std::lround(c[i]));
}

// How the candidates were scored, as candidates.json and the bundle record it.
json validation_json(const TrainerSettings& mt) {
  if (mt.validation == "holdout") return {{"strategy", "holdout"}, {"share", mt.holdout_share}};
  return {{"strategy", "cv"}, {"folds", mt.cv_folds}};
}
}  // namespace

ModelTrainerArtifact run_model_trainer(const PipelineConfig& cfg, const IngestionArtifact& ingestion,
                                       const TransformationArtifact& in, const fs::path& stage_dir,
                                       const ProgressFn& progress) {
  Matrix X;
  Labels y;
  if (in.data) {  // the same run: the transformed split in memory
    X = in.data->train;
    y = in.data->train_labels;
  } else {
    split_xy(read_csv(in.train), in.features, X, y);
  }

  auto pre =
      in.data
          ? std::make_unique<Preprocessor>(*in.data->preprocessor)
          : std::make_unique<Preprocessor>(Preprocessor::from_json(json::parse(read_file(in.preprocessor))));
  pre->name_features(in.features);
  // A class with fewer training rows than CV folds: stratified folds cannot all hold it (a held-out
  // share needs two: one to train on, one to score).
  const auto& mt = cfg.model_trainer;
  const bool holdout = mt.validation == "holdout";
  json class_rows = json::object();
  const auto class_names = in.classes.value("classes", std::vector<std::string>{"0", "1"});
  for (std::size_t k = 0; k < class_names.size(); ++k) {
    const auto n = static_cast<std::size_t>(std::count(y.begin(), y.end(), static_cast<int>(k)));
    class_rows[class_names[k]] = n;
    if (holdout && n < 2)
      spdlog::warn(
          "train: class '{}' has {} training row: the held-out share has none of it, candidates are "
          "scored without it",
          class_names[k], n);
    else if (!holdout && n < static_cast<std::size_t>(mt.cv_folds))
      spdlog::warn(
          "train: class '{}' has {} training rows, fewer than the {} CV folds: the stratified folds "
          "hold it in {} of them, the others are scored without it",
          class_names[k], n, mt.cv_folds, n);
  }
  const LabelSpace space = LabelSpace::from_json(in.classes);
  std::vector<bool> threat(space.size());
  for (std::size_t k = 0; k < space.size(); ++k) threat[k] = space.is_threat(static_cast<int>(k));
  const std::string metric = cfg.model_trainer.metric_for(space.size());
  SearchOptions so;
  so.cardinality = pre->cardinality();
  so.classes = static_cast<int>(space.size());
  if (!space.binary()) so.threat = threat;
  so.folds = mt.cv_folds;
  so.limits = {mt.max_trees, mt.max_candidates};
  so.holdout = holdout ? mt.holdout_share : 0.0;
  so.metric = metric;
  so.strategy = cfg.model_trainer.search;
  so.seed = cfg.pipeline.seed;
  so.smote = cfg.transformation.sampler == "smote";
  so.smote_k = cfg.transformation.smote_k;
  so.class_weights = cfg.model_trainer.class_weights;
  so.halving_factor = cfg.model_trainer.halving_factor;
  so.collapse_duplicates = cfg.model_trainer.collapse_duplicates;
  so.progress = progress;
  auto res = search_models(X, y, cfg.model_trainer.families, so);
  const auto& best = res.candidates[res.best];
  spdlog::info("train: {} candidates in {:.2f}s; best {} {} CV {} {:.4f} ± {:.4f}", res.candidates.size(),
               res.seconds, best.family, best.params.dump(), metric, best.cv_mean, best.cv_std);

  // The search refits the best candidate on the whole training split (SMOTE / class weights as in CV).
  auto model = std::move(res.model);
  spdlog::debug("train: refit done");

  ModelTrainerArtifact a;
  a.family = best.family;
  a.params = best.params;
  a.cv_score = best.cv_mean;
  a.metric = metric;
  // The threshold on P(threat), from the out-of-fold probabilities (threat vs benign): of every row
  // under k folds, of the held-out share's rows under holdout validation.
  Matrix oof = class_probabilities(res.oof_proba, y.size(), so.classes);
  Labels oof_y = y;
  if (!res.oof_rows.empty()) {
    oof = oof.take_rows(res.oof_rows);
    oof_y = take(y, res.oof_rows);
  }
  a.threshold = choose_threshold(threat_labels(oof_y, threat), threat_probability(oof, threat), mt.threshold);
  a.train_metrics = compute_class_metrics(y, class_probabilities(model->predict_proba(X), X.rows, so.classes),
                                          threat, a.threshold, space.classes())
                        .to_json();

  json table = json::array();
  std::vector<std::size_t> order(res.candidates.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](auto l, auto r) {
    const auto &a1 = res.candidates[l], &b1 = res.candidates[r];
    return a1.budget_stage != b1.budget_stage ? a1.budget_stage > b1.budget_stage : a1.cv_mean > b1.cv_mean;
  });
  for (auto i : order) {
    json row = res.candidates[i].to_json();
    row["selected"] = i == res.best;
    table.push_back(row);
  }
  a.candidate_table = table;
  a.candidates = stage_dir / "candidates.json";
  write_file_atomic(a.candidates, json({{"metric", metric},
                                        {"class_rows", class_rows},
                                        {"strategy", cfg.model_trainer.search},
                                        {"validation", validation_json(mt)},
                                        {"search_seconds", res.seconds},
                                        {"candidates", table}})
                                      .dump(2));

  spdlog::debug("train: threshold, train metrics and candidate table done");
  const Schema schema = in.data ? *in.data->raw.schema : stage_schema(cfg);
  json meta = {{"version", stage_dir.parent_path().filename().string()},
               {"created_at", utc_iso8601()},
               {"data_sha256", ingestion.data_sha256},
               {"source", ingestion.source},
               {"split", ingestion.split},
               {"seed", cfg.pipeline.seed},
               {"netsentry_version", NETSENTRY_VERSION},
               {"classes", in.classes},
               {"threshold", a.threshold},
               {"cv",
                {{"metric", metric},
                 {"mean", best.cv_mean},
                 {"std", best.cv_std},
                 {"validation", validation_json(mt)}}},
               {"train_metrics", a.train_metrics}};
  if (!ingestion.test_source.empty()) meta["test_source"] = ingestion.test_source;
  // A file without a header row (data.header: false): its column order, so that `predict --no-header`
  // reads files of the same layout.
  if (!ingestion.file_columns.empty()) meta["file_columns"] = ingestion.file_columns;
  auto bundle =
      ModelBundle::assemble(std::move(model), std::move(pre), schema, in.features, cfg.data.target, meta);
  a.model_dir = stage_dir / "trained_model";
  spdlog::debug("train: bundle assembled");
  bundle.save(a.model_dir);
  spdlog::debug("train: bundle saved");
  a.bundle = std::make_shared<ModelBundle>(std::move(bundle));
  write_file_atomic(stage_dir / "artifact.json", a.to_json().dump(2));
  return a;
}

}  // namespace netsentry
