// FlatForest (the compiled tree evaluator) against XGBoost's own predictor: the XGBoost tree families
// trained on the UCI data, every row scored both ways, with and without missing values, whole
// batches and small ones, all rounds and the first n, one thread and two.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <thread>

#include "netsentry/core/fs.hpp"
#include "netsentry/model/classifier.hpp"
#include "netsentry/model/flat_forest.hpp"
#include "netsentry/model/xgb_booster.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/table/csv.hpp"
#include "support/crosscheck.hpp"
#include "support/paths.hpp"

using namespace netsentry;
using json = nlohmann::json;

namespace {

// The UCI split, plus every row with missing values injected into half of the rows.
struct Uci {
  const Matrix &Xtr, &X;
  const Labels& ytr;
  Matrix X_missing;
};

const Uci& uci() {
  static const Uci d = [] {
    const auto& s = test::uci_split();
    Uci u{s.Xtr, s.X, s.ytr, s.X};
    std::mt19937 rng(7);
    std::bernoulli_distribution row_has(0.5), cell(0.2);
    for (std::size_t r = 0; r < u.X_missing.rows; ++r)
      if (row_has(rng))
        for (auto& v : u.X_missing.row(r))
          if (cell(rng)) v = kMissing;
    return u;
  }();
  return d;
}

// A saved XGBoost family's model (whichever of XGBoost's forms the family writes), loaded by XGBoost.
void load_saved(xgb::Booster& booster, const std::filesystem::path& dir) {
  for (const char* name : {"xgboost_model.ubj", "xgboost_model.json"})
    if (std::filesystem::exists(dir / name)) return booster.load(dir / name);
  FAIL() << "no XGBoost model in " << dir;
}

// The model's JSON document, as XGBoost writes it.
std::string model_json(const std::filesystem::path& dir) {
  xgb::Booster booster;
  load_saved(booster, dir);
  return booster.serialize("json");
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

Matrix first_rows(const Matrix& X, std::size_t n) {
  Matrix m(n, X.cols);
  std::copy(X.data.begin(), X.data.begin() + static_cast<std::ptrdiff_t>(n * X.cols), m.data.begin());
  return m;
}

constexpr double kTolerance = 1e-5;

struct Case {
  const char* family;
  json params;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c{
      {"gradient_boosting", {{"n_estimators", 256}, {"max_depth", 6}}},
      {"random_forest", {{"n_estimators", 256}}},
      {"decision_tree", json::object()},
  };
  return c;
}

// A case's family fitted on the UCI training rows and saved, and XGBoost's booster loaded from it.
struct Fitted {
  std::unique_ptr<Classifier> clf;
  test::TempDir dir;
  xgb::Booster booster;
};

std::unique_ptr<Fitted> fit_and_load(const Case& c) {
  auto f = std::make_unique<Fitted>();
  f->clf = create_classifier(c.family, c.params);
  f->clf->fit(uci().Xtr, uci().ytr);
  f->clf->save(f->dir.path());
  load_saved(f->booster, f->dir.path());
  return f;
}

}  // namespace

TEST(FlatForest, MatchesXgboostOnEveryRow) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  for (const auto& c : cases()) {
    const char* family = c.family;
    SCOPED_TRACE(family);
    // XGBoost's own predictor on the saved model, and FlatForest from the same file.
    const auto fitted = fit_and_load(c);
    const auto& [clf, dir, booster] = *fitted;
    std::string why;
    auto flat = xgb::FlatForest::from_json(model_json(dir.path()), &why);
    ASSERT_TRUE(flat) << why;
    EXPECT_EQ(flat->features(), d.X.cols);
    EXPECT_STREQ(flat->mode(), "masks");  // features in {-1, 0, 1}: few distinct tests
    EXPECT_EQ(flat->has_blocks(),
              std::string(family) != "random_forest" && std::string(family) != "decision_tree");
    EXPECT_EQ(flat->has_hops(), !flat->has_blocks());  // deep trees: hops
    EXPECT_EQ(flat->rounds(), booster.rounds());
    EXPECT_GT(flat->trees(), 0u);
    // UBJSON gives the same forest.
    auto flat_ubj = xgb::FlatForest::from_ubjson(booster.serialize("ubj"), &why);
    ASSERT_TRUE(flat_ubj) << why;
    EXPECT_EQ(flat_ubj->nodes(), flat->nodes());

    for (const Matrix* X : {&d.X, &d.X_missing}) {
      SCOPED_TRACE(X == &d.X ? "complete rows" : "rows with missing values");
      const auto ref = booster.predict_proba(*X);
      EXPECT_LE(max_abs_diff(flat->predict_proba(*X), ref), kTolerance);
      EXPECT_LE(max_abs_diff(flat_ubj->predict_proba(*X), ref), kTolerance);
      // Shallow trees are walked by blocks of three levels, deep ones by hops (with BMI2); one level
      // at a time the same.
      auto by_levels = *flat;
      by_levels.set_walk(xgb::FlatForest::Walk::Levels);
      EXPECT_LE(max_abs_diff(by_levels.predict_proba(*X), ref), kTolerance);
      // One thread and two give the same answers.
      EXPECT_EQ(flat->predict_proba(*X, 0, 1), flat->predict_proba(*X, 0, 2));
      // The family predicts with the compiled trees, after fitting and after loading.
      EXPECT_LE(max_abs_diff(clf->predict_proba(*X), ref), kTolerance);
      auto loaded = create_classifier(family, clf->params());
      loaded->load(dir.path());
      EXPECT_LE(max_abs_diff(loaded->predict_proba(*X), ref), kTolerance);
      // Small batches (a single row; fewer rows than walk a tree together; a few groups and a tail).
      for (std::size_t n : {1, 3, 7, 8, 9, 31, 100}) {
        Matrix part = first_rows(*X, n);
        const auto want = std::vector<double>(ref.begin(), ref.begin() + static_cast<std::ptrdiff_t>(n));
        EXPECT_LE(max_abs_diff(flat->predict_proba(part), want), kTolerance) << n << " rows";
      }
    }
  }
}

TEST(FlatForest, FirstRoundsMatchXgboostIterationRanges) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  auto clf = create_classifier("gradient_boosting", {{"n_estimators", 64}, {"max_depth", 6}});
  clf->fit(d.Xtr, d.ytr);
  test::TempDir dir;
  clf->save(dir.path());
  xgb::Booster booster;
  load_saved(booster, dir.path());
  auto flat = xgb::FlatForest::from_json(model_json(dir.path()));
  ASSERT_TRUE(flat);
  ASSERT_EQ(flat->rounds(), 64);
  for (int n : {1, 2, 8, 33, 64}) {
    for (const Matrix* X : {&d.X, &d.X_missing}) {
      const auto ref = booster.predict_proba(*X, n);
      EXPECT_LE(max_abs_diff(flat->predict_proba(*X, n), ref), kTolerance) << n << " rounds";
      auto staged = clf->predict_proba_first(*X, n);
      ASSERT_TRUE(staged);
      EXPECT_LE(max_abs_diff(*staged, ref), kTolerance) << n << " rounds";
    }
  }
  // Keeping the first rounds recompiles the trees.
  ASSERT_TRUE(clf->keep_first(8));
  EXPECT_LE(max_abs_diff(clf->predict_proba(d.X), booster.predict_proba(d.X, 8)), kTolerance);
}

TEST(FlatForest, StagedPassEqualsSeparateRoundCounts) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  for (int depth : {3, 7}) {  // shallow trees walk by blocks (with BMI2), deeper ones by levels
    auto clf = create_classifier("gradient_boosting", {{"n_estimators", 40}, {"max_depth", depth}});
    clf->fit(d.Xtr, d.ytr);
    test::TempDir dir;
    clf->save(dir.path());
    auto flat = xgb::FlatForest::from_json(model_json(dir.path()));
    ASSERT_TRUE(flat);
    const std::vector<int> ns = {1, 3, 8, 16, 39, 40};
    for (auto walk : {xgb::FlatForest::Walk::Auto, xgb::FlatForest::Walk::Levels}) {
      flat->set_walk(walk);
      for (const Matrix* X : {&d.X, &d.X_missing}) {
        const auto staged = flat->predict_proba_staged(*X, ns);
        ASSERT_EQ(staged.size(), ns.size());
        for (std::size_t i = 0; i < ns.size(); ++i) {
          const auto one = flat->predict_proba(*X, ns[i]);
          ASSERT_EQ(staged[i].size(), one.size());
          for (std::size_t r = 0; r < one.size(); ++r)
            ASSERT_EQ(staged[i][r], one[r]) << "depth " << depth << ", " << ns[i] << " rounds, row " << r;
        }
      }
    }
    // The family answers the same through the classifier interface.
    const auto via_family = clf->predict_proba_staged(d.X, ns);
    ASSERT_TRUE(via_family);
    for (std::size_t i = 0; i < ns.size(); ++i)
      EXPECT_EQ((*via_family)[i], *clf->predict_proba_first(d.X, ns[i]));
    EXPECT_THROW(flat->predict_proba_staged(d.X, {8, 3}), std::invalid_argument);
    EXPECT_THROW(flat->predict_proba_staged(d.X, {0}), std::invalid_argument);
    EXPECT_THROW(flat->predict_proba_staged(d.X, {41}), std::invalid_argument);
  }
}

TEST(FlatForest, RandomForestRoundHoldsEveryParallelTree) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  auto clf = create_classifier("random_forest", {{"n_estimators", 16}});
  clf->fit(d.Xtr, d.ytr);
  test::TempDir dir;
  clf->save(dir.path());
  auto flat = xgb::FlatForest::from_json(model_json(dir.path()));
  ASSERT_TRUE(flat);
  EXPECT_EQ(flat->trees(), 16u);
  EXPECT_EQ(flat->trees_per_round(), 16u);
  EXPECT_EQ(flat->rounds(), 1);
  EXPECT_EQ(flat->predict_proba(d.X, 1), flat->predict_proba(d.X));
}

TEST(FlatForest, RefusesWhatItDoesNotCover) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  auto clf = create_classifier("logistic_regression", json::object());
  clf->fit(d.Xtr, d.ytr);
  test::TempDir dir;
  clf->save(dir.path());
  std::string why;
  EXPECT_FALSE(xgb::FlatForest::from_json(model_json(dir.path()), &why));
  EXPECT_NE(why.find("gblinear"), std::string::npos) << why;
  // The family still predicts, with XGBoost.
  xgb::Booster booster;
  load_saved(booster, dir.path());
  EXPECT_EQ(booster.compiled(), nullptr);
  EXPECT_EQ(clf->predict_proba(d.X), booster.predict_proba(d.X));
  // Not a model at all.
  EXPECT_FALSE(xgb::FlatForest::from_json("{\"learner\": [1, 2", &why));
  EXPECT_FALSE(why.empty());
  EXPECT_FALSE(xgb::FlatForest::from_json("{}", &why));
  // Values their arrays' types cannot hold, and nesting no model has, are refused with a reason
  // (found by fuzzing: converting 1e90 to an index was undefined behaviour).
  clf = create_classifier("gradient_boosting", json{{"n_estimators", 2}, {"max_depth", 2}});
  clf->fit(d.Xtr, d.ytr);
  test::TempDir gb;
  clf->save(gb.path());
  const std::string good = model_json(gb.path());
  ASSERT_TRUE(xgb::FlatForest::from_json(good, &why)) << why;
  for (const char* bad : {"1E90", "-3E40"}) {
    std::string doc = good;
    const std::size_t at = doc.find("\"split_indices\":[");
    ASSERT_NE(at, std::string::npos);
    doc.insert(at + 17, std::string(bad) + ",");
    EXPECT_FALSE(xgb::FlatForest::from_json(doc, &why)) << bad;
    EXPECT_NE(why.find("out of its type's range"), std::string::npos) << why;
  }
  // A model of no features (its rows would be empty: found by fuzzing, the row pointer was null).
  std::string none = good;
  std::size_t replaced = 0;
  for (std::size_t nf = none.find("\"num_feature\":\""); nf != std::string::npos;
       nf = none.find("\"num_feature\":\"", nf + 1), ++replaced)
    none.replace(nf + 15, none.find('"', nf + 15) - (nf + 15), "0");
  ASSERT_GT(replaced, 0u);
  EXPECT_FALSE(xgb::FlatForest::from_json(none, &why));
  EXPECT_NE(why.find("num_feature"), std::string::npos) << why;
  EXPECT_FALSE(xgb::FlatForest::from_json(std::string(100, '[') + std::string(100, ']'), &why));
  EXPECT_NE(why.find("nested more than"), std::string::npos) << why;
  // An optimized array of 2^60 payload-free values (found by fuzzing: it ran for minutes).
  EXPECT_FALSE(xgb::FlatForest::from_ubjson(std::string("{U\x07learner[$Z#L\x10\0\0\0\0\0\0\0", 23), &why));
  EXPECT_NE(why.find("more values than its size allows"), std::string::npos) << why;
  EXPECT_FALSE(xgb::FlatForest::from_ubjson(std::string(100000, '['), &why));
  EXPECT_NE(why.find("nested more than"), std::string::npos) << why;
}

TEST(FlatForest, AttributionsAreXgboostsApproximateContributions) {
  // Path attributions (Saabas) against XGBoost's own approximate contributions (pred_contribs with
  // approx_contribs) on every row, with and without missing values: the same numbers, and per row
  // they add up to the margin. The families' path_contributions() give the same.
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  for (const auto& c : cases()) {
    const char* family = c.family;
    SCOPED_TRACE(family);
    const auto fitted = fit_and_load(c);
    const auto& [clf, dir, booster] = *fitted;
    std::string why;
    auto flat = xgb::FlatForest::from_ubjson(booster.serialize("ubj"), &why);
    ASSERT_TRUE(flat) << why;
    ASSERT_TRUE(flat->has_attributions());
    for (const Matrix* X : {&d.X, &d.X_missing}) {
      SCOPED_TRACE(X == &d.X ? "complete rows" : "rows with missing values");
      const Matrix want = booster.contributions(*X, /*approximate=*/true);
      const Matrix got = flat->attributions(*X);
      ASSERT_EQ(got.rows, want.rows);
      ASSERT_EQ(got.cols, X->cols + 1);
      double worst = 0;
      for (std::size_t i = 0; i < got.data.size(); ++i)
        worst = std::max(worst, std::fabs(got.data[i] - want.data[i]));
      EXPECT_LE(worst, 1e-4);
      // Not the exact SHAP values (a different decomposition of the same margin).
      const Matrix shap = booster.contributions(first_rows(*X, 50));
      double apart = 0;
      for (std::size_t i = 0; i < shap.data.size(); ++i)
        apart = std::max(apart, std::fabs(shap.data[i] - got.data[i]));
      if (std::string(family) != "decision_tree") {
        EXPECT_GT(apart, 1e-3);
      }
      // Shares + bias = the margin (log-odds of class 1).
      std::vector<float> margin(X->rows);
      flat->predict_margin(X->data.data(), X->rows, margin.data());
      for (std::size_t r = 0; r < got.rows; ++r) {
        double sum = 0;
        for (double v : got.row(r)) sum += v;
        ASSERT_NEAR(sum, margin[r], 1e-3 * std::max(1.0, std::fabs(double{margin[r]}))) << "row " << r;
      }
      const auto via_family = clf->path_contributions(*X);
      ASSERT_TRUE(via_family);
      EXPECT_EQ(via_family->data, got.data);
    }
  }
  // A document without the nodes' covers still predicts, but does not attribute.
  auto clf = create_classifier("gradient_boosting", {{"n_estimators", 4}, {"max_depth", 3}});
  clf->fit(d.Xtr, d.ytr);
  test::TempDir dir;
  clf->save(dir.path());
  json model = json::parse(model_json(dir.path()));
  for (auto& tree : model["learner"]["gradient_booster"]["model"]["trees"]) tree.erase("sum_hessian");
  auto flat = xgb::FlatForest::from_json(model.dump());
  ASSERT_TRUE(flat);
  EXPECT_FALSE(flat->has_attributions());
  EXPECT_THROW(flat->attributions(d.X), std::logic_error);
  EXPECT_EQ(flat->predict_proba(d.X), xgb::FlatForest::from_json(model_json(dir.path()))->predict_proba(d.X));
  // Logistic regression (gblinear) has no path attributions: its SHAP values are exact and cheap.
  auto linear = create_classifier("logistic_regression", json::object());
  linear->fit(d.Xtr, d.ytr);
  EXPECT_FALSE(linear->path_contributions(d.X));
  EXPECT_TRUE(linear->contributions(d.X));
}

TEST(FlatForest, MatchesXgboostOnContinuousValues) {
  // The UCI features take three values, so a forest has few distinct tests and rows become bit
  // masks. With noise added every split has its own threshold: rows become bins (8 or 16 bits).
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> noise(-0.45, 0.45);
  Matrix Xtr = d.Xtr, X = d.X, X_missing = d.X_missing;
  for (Matrix* m : {&Xtr, &X, &X_missing})
    for (auto& v : m->data) v += noise(rng);  // NaN stays NaN
  std::set<std::string> modes;
  for (const auto& [family, params] : cases()) {
    SCOPED_TRACE(family);
    auto clf = create_classifier(family, params);
    clf->fit(Xtr, d.ytr);
    test::TempDir dir;
    clf->save(dir.path());
    xgb::Booster booster;
    load_saved(booster, dir.path());
    auto flat = xgb::FlatForest::from_json(model_json(dir.path()));
    ASSERT_TRUE(flat);
    modes.insert(flat->mode());
    for (const Matrix* m : {&X, &X_missing}) {
      const auto ref = booster.predict_proba(*m);
      EXPECT_LE(max_abs_diff(flat->predict_proba(*m), ref), kTolerance);
      EXPECT_LE(max_abs_diff(clf->predict_proba(*m), ref), kTolerance);
      for (std::size_t n : {1, 5, 8, 13}) {
        const auto want = std::vector<double>(ref.begin(), ref.begin() + static_cast<std::ptrdiff_t>(n));
        EXPECT_LE(max_abs_diff(flat->predict_proba(first_rows(*m, n)), want), kTolerance) << n << " rows";
      }
    }
  }
  EXPECT_TRUE(modes.count("bins8")) << "no forest with 8-bit bins";
  EXPECT_TRUE(modes.count("bins16")) << "no forest with 16-bit bins";
}

TEST(FlatForest, TreesThatAreOneLeaf) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  auto clf = create_classifier("gradient_boosting", {{"n_estimators", 8}, {"max_depth", 4}});
  clf->fit(d.Xtr, d.ytr);
  test::TempDir dir;
  clf->save(dir.path());
  // The first and the fourth tree become a single leaf (the first node of the forest, too).
  json model = json::parse(model_json(dir.path()));
  auto& trees = model["learner"]["gradient_booster"]["model"]["trees"];
  for (std::size_t t : {0, 3}) {
    json& tree = trees[t];
    for (auto it = tree.begin(); it != tree.end(); ++it)
      if (it->is_array() && !it->empty()) *it = json::array({(*it)[0]});
    tree["left_children"] = json::array({-1});
    tree["right_children"] = json::array({-1});
    tree["split_conditions"] = json::array({t == 0 ? 0.25 : -0.5});
    tree["tree_param"]["num_nodes"] = "1";
  }
  std::ofstream(dir / "edited.json") << model.dump();
  xgb::Booster booster;
  booster.load(dir / "edited.json");
  auto flat = xgb::FlatForest::from_json(read_file(dir / "edited.json"));
  ASSERT_TRUE(flat);
  EXPECT_EQ(flat->trees(), 8u);
  for (std::size_t n : {1, 9, 100}) {
    Matrix part = first_rows(d.X_missing, n);
    EXPECT_LE(max_abs_diff(flat->predict_proba(part), booster.predict_proba(part)), kTolerance) << n;
    for (int r : {1, 4})
      EXPECT_LE(max_abs_diff(flat->predict_proba(part, r), booster.predict_proba(part, r)), kTolerance) << n;
  }
}

namespace {

// A random forest of deep, thin trees in XGBoost's JSON form (splits on features in {-1, 0, 1} at
// -0.5 or 0.5, either default direction: few distinct tests, so rows become masks), and its margins
// as XGBoost 1.7 defines them, walked node by node.
struct RandomForest {
  struct Tree {  // XGBoost's arrays
    std::vector<int> left, right, default_left;
    std::vector<std::size_t> feature;
    std::vector<float> cond;  // a leaf: its value
  };
  std::vector<Tree> trees;
  json doc;
  float base_margin = -std::log(1.0f / 0.4f - 1.0f);

  RandomForest(std::size_t n_trees, std::size_t features, int depth, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> leaf(-1.0f, 1.0f);
    // Splits on at most 15 of the features, the last one among them: at most 60 distinct tests.
    std::vector<std::size_t> usable(features);
    for (std::size_t f = 0; f < features; ++f) usable[f] = f;
    if (features > 15) {
      std::shuffle(usable.begin(), usable.end() - 1, rng);
      usable.erase(usable.begin() + 14, usable.end() - 1);
    }
    json list = json::array();
    for (std::size_t t = 0; t < n_trees; ++t) {
      Tree& tree = trees.emplace_back();
      // Depth first; in every third tree the leftmost path goes down to `depth`, others stop at random.
      auto grow = [&](auto&& self, int d, bool spine) -> int {
        const int id = static_cast<int>(tree.left.size());
        tree.left.push_back(-1);
        tree.right.push_back(-1);
        tree.default_left.push_back(0);
        tree.feature.push_back(0);
        tree.cond.push_back(0);
        const bool split = d < depth && (spine || std::bernoulli_distribution(d < 4 ? 0.95 : 0.8)(rng));
        if (!split) {
          tree.cond[id] = leaf(rng);
          return id;
        }
        tree.feature[id] = usable[std::uniform_int_distribution<std::size_t>(0, usable.size() - 1)(rng)];
        tree.cond[id] = std::bernoulli_distribution(0.5)(rng) ? 0.5f : -0.5f;
        tree.default_left[id] = std::bernoulli_distribution(0.5)(rng) ? 1 : 0;
        const int l = self(self, d + 1, spine);
        const int r = self(self, d + 1, false);
        tree.left[id] = l;
        tree.right[id] = r;
        return id;
      };
      grow(grow, 0, t % 3 == 0);
      list.push_back(
          {{"left_children", tree.left},
           {"right_children", tree.right},
           {"split_indices", tree.feature},
           {"split_conditions", tree.cond},
           {"default_left", tree.default_left},
           {"split_type", std::vector<int>(tree.left.size(), 0)},
           {"tree_param", {{"num_nodes", std::to_string(tree.left.size())}, {"size_leaf_vector", "0"}}}});
    }
    json& learner = doc["learner"];
    learner["learner_model_param"] = {{"base_score", "4E-1"},
                                      {"num_class", "0"},
                                      {"num_feature", std::to_string(features)},
                                      {"num_target", "1"}};
    learner["objective"]["name"] = "binary:logistic";
    learner["gradient_booster"]["name"] = "gbtree";
    json& gbtree = learner["gradient_booster"]["model"];
    gbtree["gbtree_model_param"]["num_parallel_tree"] = std::to_string(n_trees);
    gbtree["tree_info"] = std::vector<int>(n_trees, 0);
    gbtree["trees"] = list;
  }

  std::vector<float> margins(const Matrix& X) const {
    std::vector<float> out(X.rows, base_margin);
    for (const Tree& tree : trees)
      for (std::size_t r = 0; r < X.rows; ++r) {
        std::size_t n = 0;
        while (tree.left[n] >= 0) {
          const auto x = static_cast<float>(X(r, tree.feature[n]));
          const bool go_left = std::isnan(x) ? tree.default_left[n] != 0 : x < tree.cond[n];
          n = static_cast<std::size_t>(go_left ? tree.left[n] : tree.right[n]);
        }
        out[r] += tree.cond[n];
      }
    return out;
  }
};

// Rows of values in {-1, 0, 1}, some missing: a row to every leaf of every tree that a row can reach
// (so every path is walked, the longest ones too), then random rows, some repeated (rows with the
// same mask walk once), in random order.
Matrix random_rows(const RandomForest& model, std::size_t features, std::uint32_t seed) {
  std::mt19937 rng(seed);
  // The values a row may take per feature on the way to a node: bits -1, 0, 1, missing.
  constexpr int kValues[] = {-1, 0, 1};
  std::vector<std::vector<double>> rows;
  for (const RandomForest::Tree& tree : model.trees) {
    auto down = [&](auto&& self, std::size_t n, std::vector<unsigned>& allowed) -> void {
      if (tree.left[n] < 0) {
        std::vector<double>& row = rows.emplace_back(features);
        for (std::size_t f = 0; f < features; ++f) {
          std::vector<double> can;
          for (unsigned v = 0; v < 4; ++v)
            if (allowed[f] >> v & 1) can.push_back(v < 3 ? kValues[v] : kMissing);
          row[f] = can[std::uniform_int_distribution<std::size_t>(0, can.size() - 1)(rng)];
        }
        return;
      }
      const std::size_t f = tree.feature[n];
      unsigned left = tree.default_left[n] != 0 ? 8u : 0u;
      for (unsigned v = 0; v < 3; ++v)
        if (static_cast<float>(kValues[v]) < tree.cond[n]) left |= 1u << v;
      const unsigned was = allowed[f];
      for (unsigned side : {left, 15u & ~left}) {
        allowed[f] = was & side;
        if (allowed[f])
          self(self, static_cast<std::size_t>(side == left ? tree.left[n] : tree.right[n]), allowed);
      }
      allowed[f] = was;
    };
    std::vector<unsigned> allowed(features, 15u);
    down(down, 0, allowed);
  }
  std::uniform_int_distribution<int> value(-1, 1);
  std::bernoulli_distribution missing(0.15), repeat(0.2);
  const std::size_t leaf_rows = rows.size();
  for (std::size_t r = 0; r < leaf_rows + 2000; ++r) {
    if (repeat(rng)) {
      rows.push_back(rows[std::uniform_int_distribution<std::size_t>(0, rows.size() - 1)(rng)]);
      continue;
    }
    std::vector<double>& row = rows.emplace_back(features);
    for (double& v : row) v = missing(rng) ? kMissing : value(rng);
  }
  std::shuffle(rows.begin(), rows.end(), rng);
  Matrix X(rows.size(), features);
  for (std::size_t r = 0; r < rows.size(); ++r) std::copy(rows[r].begin(), rows[r].end(), X.row(r).begin());
  return X;
}

}  // namespace

TEST(FlatForest, HopsEqualLevelsOnDeepRandomForests) {
  // Odd and even tree counts, a single tree; batches of one row, fewer rows than a group, groups and a
  // tail, and all the rows.
  for (std::size_t trees : {1, 2, 7, 33}) {
    SCOPED_TRACE(std::to_string(trees) + " trees");
    const RandomForest model(trees, 15, 18, static_cast<std::uint32_t>(trees));
    std::string why;
    auto flat = xgb::FlatForest::from_json(model.doc.dump(), &why);
    ASSERT_TRUE(flat) << why;
    EXPECT_STREQ(flat->mode(), "masks");
    EXPECT_FALSE(flat->has_blocks());
    EXPECT_TRUE(flat->has_hops());
    auto by_levels = *flat;
    by_levels.set_walk(xgb::FlatForest::Walk::Levels);
    const Matrix all = random_rows(model, 15, static_cast<std::uint32_t>(trees));
    const auto want_all = model.margins(all);
    for (std::size_t rows : {std::size_t{1}, std::size_t{5}, std::size_t{8}, std::size_t{9}, std::size_t{23},
                             std::size_t{300}, all.rows}) {
      const Matrix X = first_rows(all, rows);
      const std::vector<float> want(want_all.begin(), want_all.begin() + static_cast<std::ptrdiff_t>(rows));
      std::vector<float> hops(rows), levels(rows);
      for (int threads : {1, 2}) {
        flat->predict_margin(X.data.data(), rows, hops.data(), 0, threads);
        by_levels.predict_margin(X.data.data(), rows, levels.data(), 0, threads);
        EXPECT_EQ(hops, want) << rows << " rows, " << threads << " threads";
        EXPECT_EQ(levels, want) << rows << " rows, " << threads << " threads";
      }
      // The first rounds of a staged pass (one round holds every tree of a random forest).
      EXPECT_EQ(flat->predict_proba_staged(X, {1})[0], by_levels.predict_proba(X));
    }
    // Every row alone (a row walks several trees at a time).
    for (std::size_t r = 0; r<all.rows; r += trees> 7 ? 3 : 1) {
      float one = 0;
      flat->predict_margin(all.data.data() + r * all.cols, 1, &one);
      ASSERT_EQ(one, want_all[r]) << "row " << r;
    }
  }
}

TEST(FlatForest, ConcurrentCallersShareTheHelper) {
  // Request threads scoring at once: each large batch asks for the one helper thread; whichever call
  // it helps, every call answers as with one thread (and as by levels).
  const RandomForest model(64, 15, 18, 5);
  auto flat = xgb::FlatForest::from_json(model.doc.dump());
  ASSERT_TRUE(flat);
  ASSERT_TRUE(flat->has_hops());
  const Matrix X = random_rows(model, 15, 5);  // rows x levels: over the threshold for the helper
  const auto want = flat->predict_proba(X, 0, 1);
  auto by_levels = *flat;
  by_levels.set_walk(xgb::FlatForest::Walk::Levels);
  EXPECT_EQ(by_levels.predict_proba(X, 0, 2), want);
  std::vector<std::vector<double>> got(3);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 2; ++k) got[i] = flat->predict_proba(X, 0, 2);
    });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, want);
}

TEST(FlatForest, MasksOfUnusualValues) {
  // Values at the thresholds, infinities, signed zeros, doubles that round to a threshold or overflow
  // in float, missing values: the tests as XGBoost makes them, however many features (the masks are
  // made 16 tests at a time for up to 32 features).
  const double kInf = std::numeric_limits<double>::infinity();
  const std::vector<double> values = {
      -0.5,          0.5,           -0.0,          0.0,    kInf,     -kInf, 1e300, -1e300,
      0.49999999999, 0.50000000001, -0.5000000001, 1e-320, kMissing, -1,    0,     1};
  for (std::size_t features : {3, 9, 17, 30, 32, 33}) {
    SCOPED_TRACE(std::to_string(features) + " features");
    const RandomForest model(5, features, 14, static_cast<std::uint32_t>(features));
    auto flat = xgb::FlatForest::from_json(model.doc.dump());
    ASSERT_TRUE(flat);
    EXPECT_STREQ(flat->mode(), "masks");
    std::mt19937 rng(static_cast<std::uint32_t>(features));
    Matrix X(600, features);
    for (double& v : X.data)
      v = values[std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(rng)];
    std::vector<float> got(X.rows);
    flat->predict_margin(X.data.data(), X.rows, got.data());
    EXPECT_EQ(got, model.margins(X));
  }
}
