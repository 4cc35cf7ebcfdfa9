// Explanations of the OpenCV families (decision_tree_gini, adaboost, knn) on the UCI data: the
// contributions plus the bias add up to the log-odds of the family's own probabilities, features the
// model cannot use get exactly 0, the top features are informative ones, and a save/load round trip
// (also through a whole bundle and `netsentry predict --explain`) keeps them; bundles saved without
// the explanation data still load and predict, but cannot explain.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <thread>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/ingest/split.hpp"
#include "netsentry/model/classifier.hpp"
#include "netsentry/model/log_odds.hpp"
#include "netsentry/model/search.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/table/csv.hpp"
#include "netsentry/transform/preprocessor.hpp"
#include "support/crosscheck.hpp"
#include "support/paths.hpp"

using namespace netsentry;
using json = nlohmann::json;

namespace {

const test::UciSplit& uci() { return test::uci_split(); }

// The first n rows (k-NN explanations cost one neighbour search per changed feature).
Matrix head(const Matrix& X, std::size_t n) {
  std::vector<std::size_t> idx(std::min(n, X.rows));
  std::iota(idx.begin(), idx.end(), 0);
  return X.take_rows(idx);
}

// X with one more column, constant `v` (a feature no model can use).
Matrix with_constant_column(const Matrix& X, double v) {
  Matrix out(X.rows, X.cols + 1, v);
  for (std::size_t i = 0; i < X.rows; ++i) std::copy(X.row(i).begin(), X.row(i).end(), out.row(i).begin());
  return out;
}

// Largest |bias + sum(contributions) - clamped_logit(p)| over the rows.
double max_additivity_error(const Matrix& c, const std::vector<double>& p) {
  double worst = 0;
  for (std::size_t i = 0; i < c.rows; ++i) {
    double s = 0;
    for (std::size_t j = 0; j < c.cols; ++j) s += c(i, j);
    worst = std::max(worst, std::abs(s - clamped_logit(p[i])));
  }
  return worst;
}

std::vector<double> mean_abs_contribution(const Matrix& c) {
  std::vector<double> m(c.cols - 1, 0.0);
  for (std::size_t i = 0; i < c.rows; ++i)
    for (std::size_t j = 0; j + 1 < c.cols; ++j) m[j] += std::abs(c(i, j)) / static_cast<double>(c.rows);
  return m;
}

// Features ranked by |Pearson correlation| with the label on the training rows (strongest first).
std::vector<std::size_t> features_by_correlation(const Matrix& X, const Labels& y) {
  std::vector<double> r(X.cols, 0.0);
  const double n = static_cast<double>(X.rows);
  double my = 0;
  for (int v : y) my += v / n;
  for (std::size_t j = 0; j < X.cols; ++j) {
    double mx = 0;
    for (std::size_t i = 0; i < X.rows; ++i) mx += X(i, j) / n;
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < X.rows; ++i) {
      const double dx = X(i, j) - mx, dy = y[i] - my;
      sxy += dx * dy, sxx += dx * dx, syy += dy * dy;
    }
    r[j] = sxx > 0 ? std::abs(sxy) / std::sqrt(sxx * syy) : 0.0;
  }
  std::vector<std::size_t> order(X.cols);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return r[a] > r[b]; });
  return order;
}

std::size_t argmax(const std::vector<double>& v) {
  return static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// The features the OpenCV trees in a saved model file split on (read independently of netsentry).
std::set<int> split_features(const std::filesystem::path& yaml) {
  std::set<int> vars;
  cv::FileStorage fs(yaml.string(), cv::FileStorage::READ);
  auto scan_tree = [&](const cv::FileNode& tree) {
    for (auto node : tree["nodes"])
      for (auto split : node["splits"]) vars.insert(static_cast<int>(split["var"]));
  };
  if (!fs["trees"].empty())
    for (auto t : fs["trees"]) scan_tree(t);
  else
    scan_tree(fs.root()[fs.root().keys().front()]);  // one tree: under the model's name
  return vars;
}

struct Case {
  const char* family;
  json params;
  const char* model_file;  // the OpenCV file, for the split features (empty: k-NN)
  std::size_t rows;        // test rows to explain
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"decision_tree_gini", json::object(), "opencv_tree.yaml", 100000},
      {"adaboost", json::object(), "adaboost.yaml", 100000},  // depth-1 stumps
      {"adaboost", {{"max_depth", 3}, {"n_estimators", 20}, {"learning_rate", 0.5}}, "adaboost.yaml", 100000},
      {"knn", json::object(), "", 300},
  };
  return c;
}

std::string label(const Case& c) { return std::string(c.family) + " " + c.params.dump(); }

}  // namespace

TEST(Explanations, OpenCvFamiliesAddUpToTheirLogOddsAndSurviveSaveLoad) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  const auto by_corr = features_by_correlation(d.Xtr, d.ytr);
  const std::set<std::size_t> top5(by_corr.begin(), by_corr.begin() + 5);
  for (const auto& cs : cases()) {
    SCOPED_TRACE(label(cs));
    auto clf = create_classifier(cs.family, cs.params);
    clf->fit(d.Xtr, d.ytr);
    const Matrix X = head(d.Xte, cs.rows);
    const auto p = clf->predict_proba(X);
    const auto c = clf->contributions(X);
    ASSERT_TRUE(c.has_value());
    ASSERT_EQ(c->rows, X.rows);
    ASSERT_EQ(c->cols, X.cols + 1);
    EXPECT_TRUE(std::all_of(c->data.begin(), c->data.end(), [](double v) { return std::isfinite(v); }));
    const double err = max_additivity_error(*c, p);
    EXPECT_LT(err, 1e-6);
    std::cout << "[ explain  ] " << label(cs) << ": max |bias + sum - logit(p)| = " << err << " over "
              << X.rows << " rows\n";
    // The bias is the same for every row (the model's expected log-odds / the baseline's).
    for (std::size_t i = 1; i < c->rows; ++i) ASSERT_EQ((*c)(i, X.cols), (*c)(0, X.cols));

    // Plausible: the feature with the largest mean |contribution| is among the five most correlated
    // with the label.
    const auto mac = mean_abs_contribution(*c);
    EXPECT_TRUE(top5.count(argmax(mac))) << d.features[argmax(mac)];

    test::TempDir dir;
    clf->save(dir.path());
    if (*cs.model_file) {
      // A feature no tree splits on gets exactly 0 in every row; the global importance agrees.
      const auto used = split_features(dir / cs.model_file);
      const auto imp = clf->feature_importance(X.cols);
      std::size_t unused = 0;
      for (std::size_t j = 0; j < X.cols; ++j) {
        if (used.count(static_cast<int>(j))) continue;
        ++unused;
        EXPECT_EQ(imp[j], 0.0) << d.features[j];
        for (std::size_t i = 0; i < c->rows; ++i) ASSERT_EQ((*c)(i, j), 0.0) << d.features[j] << " row " << i;
      }
      if (std::string(cs.family) == "adaboost" && cs.params.empty()) {
        EXPECT_GT(unused, 0u);  // 50 stumps over 30 features
      }
      EXPECT_TRUE(top5.count(argmax(imp))) << d.features[argmax(imp)];
    }

    // Save/load: identical probabilities, contributions and importance.
    auto again = create_classifier(cs.family, clf->params());
    again->load(dir.path());
    EXPECT_EQ(again->predict_proba(X), p);
    auto c2 = again->contributions(X);
    ASSERT_TRUE(c2.has_value());
    EXPECT_EQ(c2->data, c->data);
    EXPECT_EQ(again->feature_importance(X.cols), clf->feature_importance(X.cols));
  }
}

TEST(Explanations, AFeatureTheModelCannotUseGetsExactlyZero) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  const Matrix Xtr = with_constant_column(d.Xtr, 1.0);
  const Matrix Xte = with_constant_column(head(d.Xte, 200), 1.0);
  const std::size_t k = Xtr.cols - 1;
  for (const auto& cs : cases()) {
    SCOPED_TRACE(label(cs));
    auto clf = create_classifier(cs.family, cs.params);
    clf->fit(Xtr, d.ytr);
    auto c = clf->contributions(Xte);
    ASSERT_TRUE(c.has_value());
    for (std::size_t i = 0; i < c->rows; ++i) ASSERT_EQ((*c)(i, k), 0.0) << "row " << i;
    EXPECT_LT(max_additivity_error(*c, clf->predict_proba(Xte)), 1e-6);
  }
}

TEST(Explanations, SampleWeightsKeepTheDecompositionExact) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  const auto w = balanced_weights(d.ytr);
  for (const char* fam : {"decision_tree_gini", "adaboost"}) {
    auto clf = create_classifier(fam, json::object());
    clf->fit(d.Xtr, d.ytr, &w);
    auto c = clf->contributions(d.Xte);
    ASSERT_TRUE(c.has_value()) << fam;
    EXPECT_LT(max_additivity_error(*c, clf->predict_proba(d.Xte)), 1e-6) << fam;
  }
}

TEST(Explanations, SmoothedTreeProbabilitiesKeepOpenCvLabels) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  auto clf = create_classifier("decision_tree_gini", json::object());
  clf->fit(d.Xtr, d.ytr);
  test::TempDir dir;
  clf->save(dir.path());
  std::filesystem::remove(dir / "opencv_tree_explain.json");  // as a bundle from before explanations
  auto raw = create_classifier("decision_tree_gini", clf->params());
  raw->load(dir.path());
  // OpenCV's raw leaf value (the class-1 share) and the smoothed share are on the same side of 1/2,
  // and the smoothing pulls towards 1/2 without crossing it.
  const auto ps = clf->predict_proba(d.Xte), pr = raw->predict_proba(d.Xte);
  for (std::size_t i = 0; i < ps.size(); ++i) {
    ASSERT_EQ(ps[i] >= 0.5, pr[i] >= 0.5) << "row " << i;
    ASSERT_LE(std::abs(ps[i] - 0.5), std::abs(pr[i] - 0.5) + 1e-6) << "row " << i;
    ASSERT_GT(ps[i], 0.0);
    ASSERT_LT(ps[i], 1.0);
  }
}

TEST(Explanations, BundlesWithoutExplanationDataStillLoadAndPredict) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = uci();
  const Matrix X = head(d.Xte, 50);
  for (auto [fam, file] :
       {std::pair{"decision_tree_gini", "opencv_tree_explain.json"},
        std::pair{"adaboost", "adaboost_explain.json"}, std::pair{"knn", "opencv_knn_explain.json"}}) {
    SCOPED_TRACE(fam);
    auto clf = create_classifier(fam, json::object());
    clf->fit(d.Xtr, d.ytr);
    test::TempDir dir;
    clf->save(dir.path());
    ASSERT_TRUE(std::filesystem::exists(dir / file));
    {
      // Explanation data that does not belong to the model is refused, not used.
      std::string text = read_file(dir / file);
      auto j = json::parse(text);
      if (j.contains("split_var")) j["split_var"].push_back(-1);
      if (j.contains("trees")) j["trees"].erase(0);
      if (j.contains("baseline")) j["baseline"].push_back(0.0);
      write_file_atomic(dir / file, j.dump());
      auto bad = create_classifier(fam, clf->params());
      EXPECT_THROW(bad->load(dir.path()), DataError);
      for (const char* text :
           {"{\"format\": 1", "{\"format\": 1}", "[]", "{\"format\": \"x\", \"version\": \"1\"}"}) {
        write_file_atomic(dir / file, text);
        EXPECT_THROW(bad->load(dir.path()), DataError) << text;
      }
    }
    std::filesystem::remove(dir / file);
    auto old = create_classifier(fam, clf->params());
    old->load(dir.path());
    const auto p = old->predict_proba(X);
    ASSERT_EQ(p.size(), X.rows);
    EXPECT_TRUE(std::all_of(p.begin(), p.end(), [](double v) { return v >= 0 && v <= 1; }));
    EXPECT_FALSE(old->contributions(X).has_value());
    const auto imp = old->feature_importance(X.cols);
    EXPECT_TRUE(std::all_of(imp.begin(), imp.end(), [](double v) { return v == 0.0; }));
    if (std::string(fam) != "decision_tree_gini") {
      EXPECT_EQ(p, clf->predict_proba(X));  // only the tree's probabilities changed (smoothing)
    }
  }
}

namespace {

// The first `rows` rows of the UCI file, as a CSV input for `netsentry predict`.
void write_input(const std::filesystem::path& file, int rows) {
  std::ifstream in(test::phishing_csv());
  std::ofstream out(file);
  std::string line;
  for (int i = 0; i <= rows && std::getline(in, line); ++i) out << line << '\n';
}

// A bundle of `clf` (fitted here) on the UCI training rows, saved to `dir`.
void save_bundle(std::unique_ptr<Classifier> clf, const std::filesystem::path& dir) {
  const auto& d = uci();
  clf->fit(d.Xtr, d.ytr);  // the UCI rows have no missing value: the preprocessor leaves them as they are
  test::uci_bundle(std::move(clf), {{"version", "test"}, {"threshold", 0.5}}).save(dir);
}

}  // namespace

TEST(Explanations, PredictExplainWorksWithABundleOfEachFamily) {
  NETSENTRY_NEEDS_UCI();
  test::TempDir dir;
  write_input(dir / "input.csv", 40);
  for (const char* fam : {"decision_tree_gini", "adaboost", "knn"}) {
    SCOPED_TRACE(fam);
    const auto bundle_dir = dir / (std::string(fam) + "_bundle");
    save_bundle(create_classifier(fam, json::object()), bundle_dir);
    const auto out = dir / (std::string(fam) + "_scored.csv");
    auto r = test::run_cli("-q predict --model-dir " + test::shell_quote(bundle_dir.string()) + " --input " +
                           test::shell_quote((dir / "input.csv").string()) + " --output " +
                           test::shell_quote(out.string()) + " --explain 3");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Table t = read_csv(out);
    ASSERT_EQ(t.rows(), 40u);
    for (const char* col : {"reason_1", "contribution_1", "reason_3", "contribution_3"})
      ASSERT_TRUE(t.find(col).has_value()) << col;
    // The CLI's contributions are the loaded bundle's, in decreasing |contribution| order.
    auto loaded = ModelBundle::load(bundle_dir);
    auto e = loaded.explain(loaded.features_from(t));
    ASSERT_TRUE(e.has_value());
    const auto& c1 = t.at("contribution_1").num;
    const auto& c3 = t.at("contribution_3").num;
    for (std::size_t i = 0; i < t.rows(); ++i) {
      EXPECT_GE(std::abs(c1[i]), std::abs(c3[i]));
      double biggest = 0;
      for (std::size_t j = 0; j < e->cols; ++j) biggest = std::max(biggest, std::abs((*e)(i, j)));
      EXPECT_NEAR(std::abs(c1[i]), biggest, 1e-9 * (1 + biggest));
    }
  }
}

TEST(Explanations, PredictExplainMethodChoosesShapOrPathAttributions) {
  // `predict --explain-method`: a random forest's reasons by exact SHAP or by path attributions, the
  // CLI's top contribution being the bundle's largest by that method; a bad method is refused.
  NETSENTRY_NEEDS_UCI();
  test::TempDir dir;
  write_input(dir / "input.csv", 30);
  save_bundle(create_classifier("random_forest", {{"n_estimators", 32}}), dir / "bundle");
  auto loaded = ModelBundle::load(dir / "bundle");
  const std::string base = "-q predict --model-dir " + test::shell_quote((dir / "bundle").string()) +
                           " --input " + test::shell_quote((dir / "input.csv").string()) + " --explain 1";
  std::vector<double> top[2];
  for (auto how : {ModelBundle::Attribution::Shap, ModelBundle::Attribution::Path}) {
    const std::string name = ModelBundle::attribution_name(how);
    SCOPED_TRACE(name);
    const auto out = dir / (name + ".csv");
    auto r =
        test::run_cli(base + " --explain-method " + name + " --output " + test::shell_quote(out.string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Table t = read_csv(out);
    ASSERT_EQ(t.rows(), 30u);
    auto e = loaded.explain(loaded.features_from(t), how);
    ASSERT_TRUE(e.has_value());
    top[how == ModelBundle::Attribution::Path] = t.at("contribution_1").num;
    for (std::size_t i = 0; i < t.rows(); ++i) {
      double biggest = 0;
      for (std::size_t j = 0; j < e->cols; ++j) biggest = std::max(biggest, std::abs((*e)(i, j)));
      EXPECT_NEAR(std::abs(t.at("contribution_1").num[i]), biggest, 1e-9 * (1 + biggest)) << "row " << i;
    }
  }
  EXPECT_NE(top[0], top[1]);  // two different decompositions
  auto bad = test::run_cli(base + " --explain-method lime");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--explain-method"), std::string::npos) << bad.err;
}

TEST(Explanations, TheMethodAndItsCostFollowTheModelsStructureOnEveryLoad) {
  // serve.explain_method auto and the explanation budget decide by the family's cost model (the
  // model's trees, leaves and depth), never by a clock: the same bundle gets the same method and the
  // same estimate on every load, however busy the machine is; a deep forest is explained by path
  // attributions, a small boosted model by exact SHAP.
  NETSENTRY_NEEDS_UCI();
  test::TempDir dir;
  save_bundle(create_classifier("gradient_boosting", {{"n_estimators", 16}, {"max_depth", 3}}),
              dir / "small");
  save_bundle(create_classifier("random_forest", {{"n_estimators", 8}, {"max_depth", 20}}), dir / "forest8");
  save_bundle(create_classifier("random_forest", {{"n_estimators", 32}, {"max_depth", 20}}),
              dir / "forest32");
  std::atomic<bool> stop{false};
  std::thread busy([&] {  // a loaded machine: another core spinning
    volatile double x = 1;
    while (!stop.load(std::memory_order_relaxed)) x = x * 1.0000001 + 1e-9;
  });
  std::map<std::string, std::vector<ModelBundle::ExplainChoice>> seen;
  for (int load = 0; load < 3; ++load)
    for (const char* name : {"small", "forest8", "forest32"})
      seen[name].push_back(
          ModelBundle::load(dir / name).choose_explanation(ModelBundle::ExplainMethod::Auto));
  stop = true;
  busy.join();
  for (const auto& [name, choices] : seen) {
    SCOPED_TRACE(name);
    for (const auto& c : choices) {
      EXPECT_TRUE(c.can_explain);
      EXPECT_EQ(c.how, choices[0].how);
      EXPECT_EQ(c.seconds_per_row, choices[0].seconds_per_row);  // exactly: an estimate, not a timing
      EXPECT_GT(c.seconds_per_row, 0.0);
    }
  }
  EXPECT_EQ(seen["small"][0].how, ModelBundle::Attribution::Shap);
  EXPECT_EQ(seen["forest32"][0].how, ModelBundle::Attribution::Path);
  // Exact SHAP of the same forests: four times the trees, about four times the cost.
  const auto exact8 = ModelBundle::load(dir / "forest8").choose_explanation(ModelBundle::ExplainMethod::Shap);
  const auto exact32 =
      ModelBundle::load(dir / "forest32").choose_explanation(ModelBundle::ExplainMethod::Shap);
  EXPECT_EQ(exact32.how, ModelBundle::Attribution::Shap);
  EXPECT_GT(exact32.seconds_per_row, 2.5 * exact8.seconds_per_row);
  EXPECT_LT(exact32.seconds_per_row, 6.0 * exact8.seconds_per_row);
  EXPECT_GT(exact32.seconds_per_row, 100 * seen["forest32"][0].seconds_per_row);  // path: far cheaper
}
