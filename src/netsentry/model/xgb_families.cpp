// Model families backed by XGBoost (libxgboost, C API): gradient-boosted trees, random forest
// (XGBoost's random-forest mode), a single decision tree, and logistic regression (linear booster).
// One OpenMP thread per model unless `nthread` says otherwise: the search runs fits in parallel
// itself, and OpenMP spin-waiting on a busy 2-core machine made multi-threaded fits far slower.
#include <algorithm>
#include <cmath>
#include <map>

#include "netsentry/core/error.hpp"
#include "netsentry/model/classifier.hpp"
#include "netsentry/model/xgb_booster.hpp"

namespace netsentry {

namespace {

using json = nlohmann::json;
using Params = std::map<std::string, std::string>;

std::string num(const json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v.get<double>());
    return buf;
  }
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  throw UsageError("model parameter value " + v.dump() + " is not a number or string");
}

// One XGBoost-backed family: how its user-facing parameters map to XGBoost's, with defaults.
struct XgbSpec {
  std::string family;
  json defaults;
  // Fills XGBoost parameters and the number of boosting rounds from the full user parameters.
  std::function<void(const json& p, Params& xp, int& rounds)> map;
  bool first_n;  // n_estimators are boosting rounds: all values scored from one fit
};

class XgbClassifier final : public Classifier {
 public:
  XgbClassifier(const XgbSpec& spec, const json& params) : spec_(spec), params_(spec.defaults) {
    for (auto& [k, v] : params.items()) {
      if (!params_.contains(k) && k != "nthread" && k != "seed")
        throw UsageError("family '" + spec.family + "' has no parameter '" + k + "' (known: " + [&] {
          std::string s;
          for (auto& [dk, _] : spec.defaults.items()) s += (s.empty() ? "" : ", ") + dk;
          return s;
        }() + ")");
      params_[k] = v;
    }
  }

  std::string family() const override { return spec_.family; }
  json params() const override { return params_; }
  int nthread() const override { return params_.value("nthread", 1); }

  // hist trees split on category codes themselves (XGBoost's feature_type "c"); the exact tree and
  // gblinear would read codes as numbers, so they are not registered as native (they get one-hot).
  void use_categories(const std::vector<int>& cardinality) override {
    feature_types_.clear();
    for (int k : cardinality) feature_types_.push_back(k > 0 ? "c" : "q");
  }

  void fit(const Matrix& X, const Labels& y, const std::vector<float>* w) override {
    int rounds = 1;
    Params xp = mapped_params(rounds);
    booster_ = std::make_unique<xgb::Booster>();
    booster_->set_params(xp);
    booster_->train(X, y, w, rounds, feature_types_);
    n_features_ = X.cols;
  }

  void fit(const SharedTrainingSet& d) override {
    int rounds = 1;
    Params xp = mapped_params(rounds);
    if (xp["tree_method"] != "hist" || xp.count("max_bin")) return fit(d.X, d.y, d.weights());
    // hist families share one quantised copy of the training set (default max_bin).
    std::string key = "xgboost-quantile";
    for (auto& t : feature_types_) key += t;
    auto q = std::static_pointer_cast<xgb::QuantileDMatrix>(d.prepared(key, [&] {
      return std::static_pointer_cast<void>(
          std::make_shared<xgb::QuantileDMatrix>(d.X, d.y, d.weights(), feature_types_));
    }));
    booster_ = std::make_unique<xgb::Booster>();
    booster_->set_params(xp);
    booster_->train(q->handle(), rounds);
    n_features_ = d.X.cols;
  }

  // Tree boosters predict with the compiled trees (xgb::FlatForest: XGBoost's probabilities, several
  // times faster); the linear booster, and anything FlatForest does not cover, with XGBoost.
  std::vector<double> predict_proba(const Matrix& X) const override {
    if (const auto* f = ready().compiled(); f && f->features() == X.cols) return f->predict_proba(X);
    return ready().predict_proba(X);
  }

  std::optional<std::vector<double>> predict_proba_first(const Matrix& X, int n) const override {
    if (!spec_.first_n) return std::nullopt;
    if (const auto* f = ready().compiled(); f && f->features() == X.cols && n >= 1 && n <= f->rounds())
      return f->predict_proba(X, n);
    return ready().predict_proba(X, n);
  }

  std::optional<std::vector<std::vector<double>>> predict_proba_staged(
      const Matrix& X, const std::vector<int>& ns) const override {
    if (!spec_.first_n) return std::nullopt;
    const auto* f = ready().compiled();
    const bool in_range =
        std::all_of(ns.begin(), ns.end(), [&](int n) { return f && n >= 1 && n <= f->rounds(); });
    if (f && f->features() == X.cols && in_range && std::is_sorted(ns.begin(), ns.end()) &&
        std::adjacent_find(ns.begin(), ns.end()) == ns.end())
      return f->predict_proba_staged(X, ns);
    return Classifier::predict_proba_staged(X, ns);
  }

  bool keep_first(int n) override {
    if (!spec_.first_n || !booster_ || n < 1 || n > booster_->rounds()) return false;
    if (n < booster_->rounds()) booster_->keep_first(n);
    params_["n_estimators"] = n;
    return true;
  }

  std::optional<Matrix> contributions(const Matrix& X) const override { return ready().contributions(X); }
  std::optional<Matrix> path_contributions(const Matrix& X) const override {
    if (spec_.family == "logistic_regression") return std::nullopt;  // gblinear: SHAP is exact and cheap
    return ready().path_contributions(X);
  }

  // The cost model (seconds per row). Every call through XGBoost's C API pays for a DMatrix and the
  // predictor's set-up; TreeSHAP then takes a fixed time per step of FlatForest::shap_steps, and the
  // linear model one multiply-add per feature. FlatForest's path attributions cost a few nanoseconds
  // per node on a row's path. The constants were fitted on this project's benchmark machine
  // (bench/explain_cost.cpp prints the estimates beside measured times); they only rank the methods
  // and bound the work per request, so a slower or faster machine changes no choice.
  static constexpr double kXgbCallSeconds = 10e-6;
  static constexpr double kShapSecondsPerStep = 2.8e-9;
  static constexpr double kPathSecondsPerStep = 8e-9;
  static constexpr double kPathCallSeconds = 1e-6;

  std::optional<double> contributions_cost() const override {
    if (spec_.family == "logistic_regression")
      return kXgbCallSeconds + 1e-9 * static_cast<double>(std::max<std::size_t>(n_features_, 1));
    return kXgbCallSeconds + kShapSecondsPerStep * shape().shap;
  }
  std::optional<double> path_contributions_cost() const override {
    if (spec_.family == "logistic_regression") return std::nullopt;
    const auto* f = ready().compiled();
    if (f && f->has_attributions()) return kPathCallSeconds + kPathSecondsPerStep * f->path_steps();
    return kXgbCallSeconds + kPathSecondsPerStep * shape().path;  // XGBoost's approximate contributions
  }

  std::vector<double> feature_importance(std::size_t n_features) const override {
    if (spec_.family == "logistic_regression") {
      // |coefficient|: mean absolute contribution is data-dependent; the weights are the model's own.
      auto imp = ready().importance(n_features, "weight");
      for (auto& v : imp) v = std::abs(v);
      return imp;
    }
    return ready().importance(n_features);
  }

  // XGBoost's own model document in its binary JSON form (UBJSON, .ubj: the same content as its
  // .json form, loaded several times faster). Bundles written as .json still load.
  void save(const std::filesystem::path& dir) const override {
    std::filesystem::create_directories(dir);
    ready().save(dir / "xgboost_model.ubj");
  }

  void load(const std::filesystem::path& dir) override {
    booster_ = std::make_unique<xgb::Booster>();
    const auto ubj = dir / "xgboost_model.ubj";
    booster_->load(std::filesystem::exists(ubj) ? ubj : dir / "xgboost_model.json");
    booster_->set_params({{"nthread", num(params_.value("nthread", json(1)))}});
  }

 private:
  // The XGBoost parameters and rounds of this fit. Softmax coordinate descent without a ridge
  // diverges (every probability NaN) once a class is separable, which rare attack classes are, so a
  // linear model of K > 2 classes keeps at least kMinSoftmaxLambda (XGBoost scales it by the rows).
  static constexpr double kMinSoftmaxLambda = 1e-3;
  Params mapped_params(int& rounds) const {
    Params xp = xgb_params();
    rounds = 1;
    spec_.map(params_, xp, rounds);
    if (classes_ > 2 && xp["booster"] == "gblinear" && std::stod(xp["lambda"]) < kMinSoftmaxLambda)
      xp["lambda"] = num(json(kMinSoftmaxLambda));
    return xp;
  }

  // Two classes: binary:logistic (P(class 1)); K > 2: multi:softprob (every class's probability;
  // K trees per boosting round, a softmax over K linear models for gblinear).
  Params xgb_params() const {
    Params xp{{"objective", "binary:logistic"},
              {"eval_metric", "logloss"},
              {"verbosity", "0"},
              {"seed", num(params_.value("seed", json(0)))},
              {"nthread", num(params_.value("nthread", json(1)))}};
    if (classes_ > 2) {
      xp["objective"] = "multi:softprob";
      xp["eval_metric"] = "mlogloss";
      xp["num_class"] = std::to_string(classes_);
    }
    return xp;
  }

  // The steps of the cost model: FlatForest's counts when it covers the model, otherwise the
  // largest forest the parameters allow (every tree full to max_depth).
  struct Shape {
    double shap = 0, path = 0;
  };
  Shape shape() const {
    if (const auto* f = ready().compiled()) return {f->shap_steps(), f->path_steps()};
    const double depth = std::min(params_.value("max_depth", 6), 24);
    const double trees = static_cast<double>(std::max(1, ready().rounds())) *
                         std::max(1, spec_.first_n ? 1 : params_.value("n_estimators", 1)) *
                         (classes_ > 2 ? classes_ : 1);
    const double leaves = std::pow(2.0, depth), level = depth + 1;
    return {trees * (2 * leaves * level + leaves * level * level), trees * level};
  }

  const xgb::Booster& ready() const {
    if (!booster_) throw std::logic_error(spec_.family + ": predict before fit/load");
    return *booster_;
  }

  const XgbSpec& spec_;
  json params_;
  std::unique_ptr<xgb::Booster> booster_;
  std::size_t n_features_ = 0;
  std::vector<std::string> feature_types_;  // "q"/"c" per feature; empty: all numeric
};

const XgbSpec kGradientBoosting{"gradient_boosting",
                                {{"n_estimators", 100},
                                 {"learning_rate", 0.1},
                                 {"max_depth", 7},
                                 {"subsample", 1.0},
                                 {"colsample_bytree", 1.0},
                                 {"min_child_weight", 0.0},
                                 {"reg_lambda", 1.0},
                                 {"max_cat_to_onehot", 4}},
                                [](const json& p, Params& xp, int& rounds) {
                                  rounds = p["n_estimators"].get<int>();
                                  xp["booster"] = "gbtree";
                                  xp["tree_method"] = "hist";
                                  xp["eta"] = num(p["learning_rate"]);
                                  xp["max_depth"] = num(p["max_depth"]);
                                  xp["subsample"] = num(p["subsample"]);
                                  xp["colsample_bytree"] = num(p["colsample_bytree"]);
                                  xp["min_child_weight"] = num(p["min_child_weight"]);
                                  xp["lambda"] = num(p["reg_lambda"]);
                                  xp["max_cat_to_onehot"] = num(p["max_cat_to_onehot"]);
                                },
                                true};

const XgbSpec kRandomForest{"random_forest",
                            {{"n_estimators", 100},
                             {"max_depth", 20},
                             {"subsample", 0.632},
                             {"colsample_bynode", 0.2},
                             {"min_child_weight", 0.0},
                             {"max_cat_to_onehot", 4}},
                            [](const json& p, Params& xp, int& rounds) {
                              rounds = 1;
                              xp["booster"] = "gbtree";
                              xp["tree_method"] = "hist";
                              xp["eta"] = "1";
                              xp["num_parallel_tree"] = num(p["n_estimators"]);
                              xp["max_depth"] = num(p["max_depth"]);
                              xp["subsample"] = num(p["subsample"]);
                              xp["colsample_bynode"] = num(p["colsample_bynode"]);
                              xp["min_child_weight"] = num(p["min_child_weight"]);
                              xp["lambda"] = "1e-5";
                              xp["max_cat_to_onehot"] = num(p["max_cat_to_onehot"]);
                            },
                            false};

const XgbSpec kDecisionTree{"decision_tree",
                            {{"max_depth", 20}, {"min_child_weight", 0.0}},
                            [](const json& p, Params& xp, int& rounds) {
                              rounds = 1;
                              xp["booster"] = "gbtree";
                              xp["tree_method"] = "exact";
                              xp["eta"] = "1";
                              xp["max_depth"] = num(p["max_depth"]);
                              xp["min_child_weight"] = num(p["min_child_weight"]);
                              xp["lambda"] = "1e-5";
                            },
                            false};

// learning_rate 1 is the full Newton step per coordinate: on features of very different scales
// (NSL-KDD's byte counts reach 1e6 after robust scaling) the steps overshoot and the fit diverges
// (test accuracy 0.46 after 50 rounds); half steps converge there and fit the UCI file as well.
const XgbSpec kLogisticRegression{
    "logistic_regression",
    {{"lambda", 0.0}, {"alpha", 0.0}, {"max_iter", 200}, {"learning_rate", 0.5}},
    [](const json& p, Params& xp, int& rounds) {
      rounds = p["max_iter"].get<int>();
      xp["booster"] = "gblinear";
      xp["updater"] = "coord_descent";
      xp["feature_selector"] = "cyclic";
      xp["lambda"] = num(p["lambda"]);
      xp["alpha"] = num(p["alpha"]);
      xp["eta"] = num(p["learning_rate"]);
    },
    false};

auto factory(const XgbSpec& s) {
  return [&s](const json& params) -> std::unique_ptr<Classifier> {
    return std::make_unique<XgbClassifier>(s, params);
  };
}

}  // namespace

NETSENTRY_REGISTER_FAMILY(logistic_regression,
                          FamilyInfo{"logistic_regression",
                                     "L2/L1-regularised logistic regression (XGBoost gblinear)",
                                     factory(kLogisticRegression),
                                     0,
                                     false,
                                     false,
                                     {{"lambda", 0, 1e6, false},
                                      {"alpha", 0, 1e6, false},
                                      {"max_iter", 1, 0, true, true},
                                      {"learning_rate", 1e-4, 1, false}}});
NETSENTRY_REGISTER_FAMILY(decision_tree,
                          FamilyInfo{"decision_tree",
                                     "one decision tree (XGBoost, exact splits)",
                                     factory(kDecisionTree),
                                     1,
                                     false,
                                     false,
                                     {{"max_depth", 1, 30}, {"min_child_weight", 0, 1e6, false}}});
NETSENTRY_REGISTER_FAMILY(random_forest, FamilyInfo{"random_forest",
                                                    "random forest (XGBoost random-forest mode)",
                                                    factory(kRandomForest),
                                                    2,
                                                    false,
                                                    true,
                                                    {{"n_estimators", 1, 0, true, true},
                                                     {"max_depth", 1, 30},
                                                     {"subsample", 0.01, 1, false},
                                                     {"colsample_bynode", 0.01, 1, false},
                                                     {"min_child_weight", 0, 1e6, false},
                                                     {"max_cat_to_onehot", 1, 1e6}}});
NETSENTRY_REGISTER_FAMILY(gradient_boosting, FamilyInfo{"gradient_boosting",
                                                        "gradient-boosted trees (XGBoost hist)",
                                                        factory(kGradientBoosting),
                                                        3,
                                                        true,
                                                        true,
                                                        {{"n_estimators", 1, 0, true, true},
                                                         {"learning_rate", 1e-4, 1, false},
                                                         {"max_depth", 1, 30},
                                                         {"subsample", 0.01, 1, false},
                                                         {"colsample_bytree", 0.01, 1, false},
                                                         {"min_child_weight", 0, 1e6, false},
                                                         {"reg_lambda", 0, 1e6, false},
                                                         {"max_cat_to_onehot", 1, 1e6}}});

}  // namespace netsentry
