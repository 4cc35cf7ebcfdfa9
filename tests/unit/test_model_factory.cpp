// Model factory: every family on the UCI data, stratified folds, grid expansion, SMOTE confined to
// training folds, the decision threshold and explanations across a save/load round trip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <set>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/ingest/split.hpp"
#include "netsentry/model/classifier.hpp"
#include "netsentry/model/metrics.hpp"
#include "netsentry/model/search.hpp"
#include "netsentry/model/xgb_booster.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/table/csv.hpp"
#include "netsentry/train/trainer.hpp"
#include "netsentry/transform/preprocessor.hpp"
#include "support/crosscheck.hpp"
#include "support/paths.hpp"

using namespace netsentry;
using json = nlohmann::json;

namespace {

const test::UciSplit& uci() { return test::uci_split(); }

// A family that records what it is trained and scored on (for the SMOTE-leak test).
struct SpyLog {
  std::mutex mu;
  std::vector<Matrix> fitted, scored;
};
SpyLog& spy_log() {
  static SpyLog log;
  return log;
}

class Spy final : public Classifier {
 public:
  explicit Spy(const json&) {}
  std::string family() const override { return "test_spy"; }
  json params() const override { return json::object(); }
  void fit(const Matrix& X, const Labels&, const std::vector<float>*) override {
    std::lock_guard l(spy_log().mu);
    spy_log().fitted.push_back(X);
  }
  std::vector<double> predict_proba(const Matrix& X) const override {
    std::lock_guard l(spy_log().mu);
    spy_log().scored.push_back(X);
    return std::vector<double>(X.rows, 0.5);
  }
  void save(const std::filesystem::path&) const override {}
  void load(const std::filesystem::path&) override {}
};

}  // namespace

NETSENTRY_REGISTER_FAMILY(test_spy, FamilyInfo{"test_spy",
                                               "records its inputs (tests only)",
                                               [](const json& p) -> std::unique_ptr<Classifier> {
                                                 return std::make_unique<Spy>(p);
                                               },
                                               0,
                                               false,
                                               false,
                                               {}});

TEST(ModelFactory, StratifiedFoldsPartitionAndKeepClassShares) {
  Labels y;
  for (int i = 0; i < 1000; ++i) y.push_back(i % 10 < 3 ? 1 : 0);  // 30% positives
  auto folds = stratified_kfold(y, 3, 7);
  ASSERT_EQ(folds.size(), 3u);
  std::set<std::size_t> all;
  for (auto& f : folds) {
    double pos = 0;
    for (auto i : f) pos += y[i], all.insert(i);
    EXPECT_NEAR(pos / static_cast<double>(f.size()), 0.3, 0.002);
    EXPECT_NEAR(static_cast<double>(f.size()), 1000.0 / 3, 1.0);
  }
  EXPECT_EQ(all.size(), y.size());              // a partition: every row in exactly one fold
  EXPECT_NE(stratified_kfold(y, 3, 8), folds);  // the seed shuffles
  EXPECT_THROW(stratified_kfold(Labels{0, 1, 1, 1}, 3, 1), DataError);
}

TEST(ModelFactory, StratifiedHoldoutKeepsClassSharesAndEveryClassOnBothSides) {
  Labels y;
  for (int i = 0; i < 1000; ++i) y.push_back(i % 10 < 3 ? 1 : 0);  // 30% positives
  for (int i = 0; i < 3; ++i) y.push_back(2);                      // a class of three rows
  y.push_back(3);                                                  // and one of a single row
  const auto sets = stratified_holdout(y, 0.2, 7);
  ASSERT_EQ(sets.size(), 1u);
  const auto& v = sets[0];
  EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
  EXPECT_EQ(std::set<std::size_t>(v.begin(), v.end()).size(), v.size());
  std::map<int, std::size_t> per_class;
  for (auto i : v) ++per_class[y[i]];
  EXPECT_EQ(per_class[1], 60u);                    // round(0.2 x 300)
  EXPECT_EQ(per_class[0], 140u);                   // round(0.2 x 700)
  EXPECT_EQ(per_class[2], 1u);                     // round(0.6) = 1: one validates, two train
  EXPECT_EQ(per_class.count(3), 0u);               // a single row trains
  EXPECT_EQ(stratified_holdout(y, 0.2, 7), sets);  // the seed decides
  EXPECT_NE(stratified_holdout(y, 0.2, 8), sets);
  // A class of two with a share rounding to all of it still keeps one to train on.
  const auto two = stratified_holdout(Labels{0, 0, 1, 1}, 0.5, 1);
  EXPECT_EQ(two[0].size(), 2u);
  EXPECT_THROW(stratified_holdout(y, 0.0, 1), UsageError);
  EXPECT_THROW(stratified_holdout(y, 1.0, 1), UsageError);
  EXPECT_THROW(stratified_holdout(Labels{0, 1}, 0.2, 1), DataError);  // nothing to validate on
}

TEST(ModelFactory, HoldoutValidationFitsOncePerCandidateOnTheRestAndScoresTheShare) {
  Matrix X(600, 2);
  Labels y(600);
  for (std::size_t i = 0; i < 600; ++i) {
    y[i] = i % 4 == 0;
    X(i, 0) = static_cast<double>(i);
    X(i, 1) = static_cast<double>(i % 7);
  }
  spy_log().fitted.clear();
  spy_log().scored.clear();
  SearchOptions so;
  so.holdout = 0.25;
  so.refit = false;
  auto r = search_models(X, y, json::parse(R"({"test_spy": {}})"), so);
  ASSERT_EQ(spy_log().fitted.size(), 1u);  // one fit, not one per fold
  ASSERT_EQ(spy_log().scored.size(), 1u);
  const auto want = stratified_holdout(y, 0.25, so.seed)[0];
  EXPECT_EQ(r.oof_rows, want);
  std::set<double> scored, fitted;
  for (std::size_t i = 0; i < spy_log().scored[0].rows; ++i) scored.insert(spy_log().scored[0](i, 0));
  for (std::size_t i = 0; i < spy_log().fitted[0].rows; ++i) fitted.insert(spy_log().fitted[0](i, 0));
  EXPECT_EQ(scored.size(), want.size());
  EXPECT_EQ(scored.size() + fitted.size(), X.rows);  // the share scores, every other row trains
  for (auto i : want)
    EXPECT_TRUE(scored.count(static_cast<double>(i)) && !fitted.count(static_cast<double>(i)));
  EXPECT_EQ(r.candidates[0].fold_scores.size(), 1u);
  EXPECT_EQ(r.candidates[0].cv_std, 0.0);
}

TEST(ModelFactory, HoldoutValidationSelectsOnTheUciData) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  auto families =
      json::parse(R"({"gradient_boosting": {"n_estimators": [16, 64]}, "logistic_regression": {}})");
  SearchOptions so;
  so.strategy = "halving";
  so.holdout = 0.2;
  auto r = search_models(d.Xtr, d.ytr, families, so);
  ASSERT_TRUE(r.model);
  EXPECT_EQ(r.candidates[r.best].family, "gradient_boosting");
  EXPECT_GT(r.candidates[r.best].cv_mean, 0.93);
  EXPECT_GT(compute_metrics(d.yte, r.model->predict_proba(d.Xte)).accuracy, 0.95);
  // Out-of-fold probabilities only for the share's rows; the others stay 0.
  std::set<std::size_t> share(r.oof_rows.begin(), r.oof_rows.end());
  ASSERT_NEAR(static_cast<double>(share.size()), 0.2 * static_cast<double>(d.ytr.size()), 2.0);
  for (std::size_t i = 0; i < d.ytr.size(); ++i)
    if (!share.count(i)) {
      ASSERT_EQ(r.oof_proba[i], 0.0) << i;
    }
  EXPECT_EQ(search_models(d.Xtr, d.ytr, families, so).oof_proba, r.oof_proba);  // same input, same output
}

TEST(ModelFactory, GridExpansionAndUnknownNames) {
  auto c = expand_grid(
      json::parse(R"({"gradient_boosting": {"learning_rate": [0.1, 0.3], "n_estimators": [8, 16, 32]},
                                        "logistic_regression": {}})"));
  EXPECT_EQ(c.size(), 7u);
  EXPECT_THROW(expand_grid(json::parse(R"({"no_such_family": {}})")), UsageError);
  EXPECT_THROW(create_classifier("gradient_boosting", json::parse(R"({"no_such_param": 1})")), UsageError);
}

// A search space is checked before anything is fitted: each value against its parameter's type and
// range (a count of trees against model_trainer.max_trees), the number of candidates against
// model_trainer.max_candidates; the error names the key, the range and the value.
TEST(ModelFactory, GridValuesAndSizeAreCheckedUpFront) {
  auto error = [](const std::string& families, GridLimits lim = {}) {
    try {
      check_grid(json::parse(families), lim);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(error(R"({"gradient_boosting": {"max_depth": [-5]}})"),
            "model_trainer.families.gradient_boosting.max_depth must be an integer in [1, 30] (got -5)");
  EXPECT_NE(error(R"({"gradient_boosting": {"max_depth": ["deep"]}})").find("(got \"deep\")"),
            std::string::npos);
  EXPECT_NE(
      error(R"({"random_forest": {"max_depth": 2.5}})").find("random_forest.max_depth must be an integer"),
      std::string::npos);
  EXPECT_NE(
      error(R"({"gradient_boosting": {"learning_rate": [0]}})").find("learning_rate must be a number in"),
      std::string::npos);
  EXPECT_NE(error(R"({"knn": {"n_neighbors": true}})").find("knn.n_neighbors"), std::string::npos);
  EXPECT_NE(error(R"({"gradient_boosting": {"n_estimators": [100000000]}})").find("model_trainer.max_trees"),
            std::string::npos);
  EXPECT_EQ(error(R"({"gradient_boosting": {"n_estimators": [100000000]}})", {100000000, 10}), "(no error)");
  EXPECT_NE(error(R"({"adaboost": {"depth": 1}})").find("adaboost has no parameter 'depth' (known: "),
            std::string::npos);
  EXPECT_NE(error(R"({"gradient_boosting": {"nthread": 0}})").find("nthread"), std::string::npos);
  // 10^20 combinations are counted, not expanded.
  std::string huge = R"({"gradient_boosting": {)";
  const char* params[] = {"n_estimators",     "learning_rate",    "max_depth",  "subsample",
                          "colsample_bytree", "min_child_weight", "reg_lambda", "max_cat_to_onehot"};
  for (int i = 0; i < 8; ++i)
    huge += std::string(i ? "," : "") + "\"" + params[i] + "\": [1,1,1,1,1,1,1,1,1,1]";
  huge += "}}";
  EXPECT_NE(error(huge).find("over model_trainer.max_candidates = 2000"), std::string::npos) << error(huge);
  EXPECT_THROW(expand_grid(json::parse(huge)), UsageError);
  EXPECT_EQ(error(R"({"gradient_boosting": {"max_depth": [1, 30], "learning_rate": [1e-4, 1]}})"),
            "(no error)");
  // Every family's defaults lie in its ranges.
  for (const auto& name : family_names()) {
    if (name == "test_spy") continue;
    const json defaults = create_classifier(name, json::object())->params();
    json grid = json::object();
    for (auto& [k, v] : defaults.items())
      if (k != "nthread" && k != "seed") grid[k] = v;
    EXPECT_EQ(error(json{{name, grid}}.dump()), "(no error)") << name;
  }
}

TEST(ModelFactory, EveryFamilyLearnsTheUciData) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  for (const char* fam : {"logistic_regression", "decision_tree", "decision_tree_gini", "random_forest",
                          "gradient_boosting", "adaboost", "knn"}) {
    auto clf = create_classifier(fam, json::object());
    clf->fit(d.Xtr, d.ytr);
    auto m = compute_metrics(d.yte, clf->predict_proba(d.Xte));
    EXPECT_GT(m.accuracy, 0.90) << fam;
    // Save and load reproduce the predictions exactly.
    test::TempDir dir;
    clf->save(dir.path());
    auto again = create_classifier(fam, clf->params());
    again->load(dir.path());
    EXPECT_EQ(again->predict_proba(d.Xte), clf->predict_proba(d.Xte)) << fam;
  }
}

// XGBoost models are saved in XGBoost's binary JSON form; bundles saved in its text JSON form load
// and predict the same.
TEST(ModelFactory, XgboostModelsSavedAsJsonStillLoad) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  auto clf = create_classifier("gradient_boosting", {{"n_estimators", 16}});
  clf->fit(d.Xtr, d.ytr);
  test::TempDir ubj, old;
  clf->save(ubj.path());
  ASSERT_TRUE(std::filesystem::exists(ubj.path() / "xgboost_model.ubj"));
  xgb::Booster b;
  b.load(ubj.path() / "xgboost_model.ubj");
  b.save(old.path() / "xgboost_model.json");
  auto again = create_classifier("gradient_boosting", clf->params());
  again->load(old.path());
  EXPECT_EQ(again->predict_proba(d.Xte), clf->predict_proba(d.Xte));
}

TEST(ModelFactory, StagedEstimatorsMatchSeparateFits) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  for (const char* fam : {"gradient_boosting", "adaboost"}) {
    auto big = create_classifier(fam, {{"n_estimators", 32}});
    big->fit(d.Xtr, d.ytr);
    auto small = create_classifier(fam, {{"n_estimators", 8}});
    small->fit(d.Xtr, d.ytr);
    auto staged = big->predict_proba_first(d.Xte, 8);
    ASSERT_TRUE(staged) << fam;
    auto direct = small->predict_proba(d.Xte);
    for (std::size_t i = 0; i < direct.size(); ++i)
      ASSERT_NEAR((*staged)[i], direct[i], 1e-6) << fam << " row " << i;
  }
}

TEST(ModelFactory, SmoteNeverTouchesValidationFolds) {
  // Imbalanced data: 10% positives, so SMOTE adds many synthetic rows to each training fold.
  Matrix X(600, 4);
  Labels y(600);
  for (std::size_t i = 0; i < 600; ++i) {
    y[i] = i % 10 == 0;
    for (std::size_t j = 0; j < 4; ++j)
      X(i, j) = static_cast<double>((i * 7 + j * 13) % 17) + (y[i] ? 5.0 : 0.0);
  }
  std::set<std::vector<double>> original;
  for (std::size_t i = 0; i < X.rows; ++i) original.insert({X.row(i).begin(), X.row(i).end()});
  spy_log().fitted.clear();
  spy_log().scored.clear();
  SearchOptions so;
  so.folds = 3;
  so.smote = true;
  so.smote_k = 3;
  so.refit = false;  // only the cross-validation fits here
  search_models(X, y, json::parse(R"({"test_spy": {}})"), so);
  ASSERT_EQ(spy_log().fitted.size(), 3u);
  ASSERT_EQ(spy_log().scored.size(), 3u);
  std::size_t scored_rows = 0;
  for (auto& m : spy_log().scored) {
    scored_rows += m.rows;
    for (std::size_t i = 0; i < m.rows; ++i)
      EXPECT_TRUE(original.count({m.row(i).begin(), m.row(i).end()}))
          << "a validation row is not an original row";
  }
  EXPECT_EQ(scored_rows, X.rows);  // each original row validated exactly once, nothing added
  for (auto& m : spy_log().fitted) {
    std::size_t synthetic = 0;
    for (std::size_t i = 0; i < m.rows; ++i) synthetic += !original.count({m.row(i).begin(), m.row(i).end()});
    EXPECT_GT(synthetic,
              100u);  // the training folds were oversampled (320 rows added, some land on lattice points)
  }
}

TEST(ModelFactory, HalvingSelectsAsWellAsTheGrid) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  auto families =
      json::parse(R"({"gradient_boosting": {"learning_rate": [0.3, 0.1, 0.01], "n_estimators": [16, 128]},
                                   "logistic_regression": {}, "decision_tree": {}})");
  SearchOptions so;
  so.strategy = "grid";
  auto grid = search_models(d.Xtr, d.ytr, families, so);
  so.strategy = "halving";
  auto halving = search_models(d.Xtr, d.ytr, families, so);
  EXPECT_EQ(grid.candidates.size(), halving.candidates.size());
  EXPECT_GE(halving.candidates[halving.best].cv_mean, grid.candidates[grid.best].cv_mean - 0.005);
  // Every candidate's table row has its CV mean, std and fit time.
  for (auto& c : grid.candidates) {
    EXPECT_EQ(c.fold_scores.size(), 3u);
    EXPECT_GT(c.fit_seconds, 0.0);
  }
}

TEST(ModelFactory, HalvingFactorSetsStagesAndSurvivors) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  // 26 fits: 25 gradient boosting settings (n_estimators staged in each) and a logistic regression.
  auto families = json::parse(R"({"gradient_boosting": {"learning_rate": [0.3, 0.1, 0.05, 0.01, 0.001],
                                   "subsample": [0.6, 0.7, 0.8, 0.9, 1.0], "n_estimators": [4, 16, 32]},
                                   "logistic_regression": {}})");
  SearchOptions so;
  so.strategy = "halving";
  for (double factor : {3.0, 5.0}) {
    so.halving_factor = factor;
    auto r = search_models(d.Xtr, d.ytr, families, so);
    std::map<int, std::set<std::string>> fits_per_stage;  // stage -> fits that reached it
    for (auto& c : r.candidates) {
      json fit = c.params;
      fit.erase("n_estimators");
      for (int s = 0; s <= c.budget_stage; ++s) fits_per_stage[s].insert(c.family + fit.dump());
    }
    // factor 3: 26 -> 9 -> 3 -> 1 fits; factor 5: 26 -> 6 -> 2 -> 1 (ceil(n / factor) survive).
    const std::vector<std::size_t> want =
        factor == 3.0 ? std::vector<std::size_t>{26, 9, 3, 1} : std::vector<std::size_t>{26, 6, 2, 1};
    ASSERT_EQ(fits_per_stage.size(), want.size()) << "factor " << factor;
    for (std::size_t s = 0; s < want.size(); ++s)
      EXPECT_EQ(fits_per_stage[static_cast<int>(s)].size(), want[s]) << "factor " << factor << " stage " << s;
    EXPECT_EQ(r.candidates[r.best].budget_stage, static_cast<int>(want.size()) - 1);
    EXPECT_GT(r.candidates[r.best].cv_mean, 0.93);
  }
  so.halving_factor = 1.5;
  EXPECT_THROW(search_models(d.Xtr, d.ytr, families, so), UsageError);
}

TEST(ModelFactory, CollapsedDuplicatesKeepEveryRowsWeight) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  std::set<std::pair<std::vector<double>, int>> distinct;
  for (std::size_t i = 0; i < d.Xtr.rows; ++i)
    distinct.insert({{d.Xtr.row(i).begin(), d.Xtr.row(i).end()}, d.ytr[i]});
  const auto c = collapse_duplicates(d.Xtr, d.ytr, {});
  ASSERT_EQ(c.X.rows, distinct.size());
  ASSERT_LT(c.X.rows, d.Xtr.rows * 3 / 4);  // the UCI training split is full of copies
  ASSERT_EQ(c.y.size(), c.X.rows);
  ASSERT_EQ(c.w.size(), c.X.rows);
  std::map<std::pair<std::vector<double>, int>, double> weight;
  for (std::size_t i = 0; i < c.X.rows; ++i)
    weight[{{c.X.row(i).begin(), c.X.row(i).end()}, c.y[i]}] += c.w[i];
  EXPECT_EQ(weight.size(), c.X.rows);  // no pair kept twice
  std::map<std::pair<std::vector<double>, int>, double> copies;
  for (std::size_t i = 0; i < d.Xtr.rows; ++i)
    copies[{{d.Xtr.row(i).begin(), d.Xtr.row(i).end()}, d.ytr[i]}] += 1;
  EXPECT_EQ(weight, copies);
  // Given weights add up per pair.
  const auto bw = balanced_weights(d.ytr);
  const auto cw = collapse_duplicates(d.Xtr, d.ytr, bw);
  double total = 0, total_c = 0;
  for (float w : bw) total += w;
  for (float w : cw.w) total_c += w;
  EXPECT_NEAR(total_c, total, 1e-3);
  // Without row sampling, boosting on the weighted rows is boosting on the copies: gradient and
  // hessian sums are the same (up to float rounding).
  const json p = {{"n_estimators", 32}, {"nthread", 1}};
  auto full = create_classifier("gradient_boosting", p),
       collapsed = create_classifier("gradient_boosting", p);
  full->fit(d.Xtr, d.ytr);
  collapsed->fit(c.X, c.y, &c.w);
  const auto a = full->predict_proba(d.Xte), b = collapsed->predict_proba(d.Xte);
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  EXPECT_LT(worst, 1e-3);
}

TEST(ModelFactory, ThresholdAndExplanationsSurviveABundleRoundTrip) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  // max_fpr threshold on out-of-fold-like probabilities: the FPR bound holds on those probabilities.
  auto gb = create_classifier("gradient_boosting", {{"n_estimators", 64}});
  gb->fit(d.Xtr, d.ytr);
  auto p = gb->predict_proba(d.Xtr);
  double t = choose_threshold(d.ytr, p, {"max_fpr", 0.5, 0.01});
  auto m = compute_metrics(d.ytr, p, t);
  EXPECT_LE(static_cast<double>(m.fp) / static_cast<double>(m.fp + m.tn), 0.01);
  EXPECT_GT(t, 0.5);

  for (const char* fam : {"gradient_boosting", "logistic_regression"}) {
    auto clf = create_classifier(fam, {});
    clf->fit(d.Xtr, d.ytr);
    auto b = test::uci_bundle(std::move(clf), {{"version", "test"}, {"threshold", t}});
    test::TempDir dir;
    b.save(dir / "bundle");
    auto loaded = ModelBundle::load(dir / "bundle");
    EXPECT_DOUBLE_EQ(loaded.threshold(), t) << fam;
    auto e1 = b.explain(d.Xte), e2 = loaded.explain(d.Xte);
    ASSERT_TRUE(e1 && e2) << fam;
    EXPECT_EQ(e1->data, e2->data) << fam;
    EXPECT_EQ(e1->cols, d.features.size());
    // Contributions plus the bias sum to the model's log-odds.
    auto s = loaded.score(d.Xte);
    EXPECT_EQ(s.probability, b.score(d.Xte).probability) << fam;
    for (std::size_t i = 0; i < s.label.size(); ++i) EXPECT_EQ(s.label[i], s.probability[i] >= t ? 1 : 0);
  }
}
