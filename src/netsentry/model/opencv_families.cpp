// Model families backed by OpenCV's ml module (libopencv-ml): a CART decision tree with the Gini
// criterion, AdaBoost (SAMME) over OpenCV decision stumps, and k-nearest neighbours.
// Models are saved with cv::FileStorage (YAML: data only).
//
// Explanations (contributions(): per-feature shares of the log-odds of class 1, bias last):
// - decision_tree_gini: path attribution (Saabas) on the log-odds of each node's smoothed class-1
//   share; exact: bias + contributions = logit of the predicted probability.
// - adaboost: the SAMME score is a sum of weighted votes; each tree's vote minus its mean over the
//   training rows is attributed along its decision path (Saabas). For stumps each term depends on one
//   feature, so this is the exact additive decomposition; for deeper trees it is exact in total.
// - knn: model-agnostic: each feature's effect on the log-odds when it is replaced by its training
//   median, rescaled to add up. An approximation of the feature's role, exact in total.
// The per-node statistics (training rows passed down each tree) and the k-NN baseline are computed at
// fit time and saved next to the OpenCV model as JSON. Bundles saved without them still load and
// predict as before, but cannot explain.
#include <opencv2/core.hpp>
#include <opencv2/ml.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/model/classifier.hpp"
#include "netsentry/model/log_odds.hpp"

namespace netsentry {

namespace {

using json = nlohmann::json;

cv::Mat to_mat(const Matrix& X) {
  cv::Mat m(static_cast<int>(X.rows), static_cast<int>(X.cols), CV_32F);
  for (std::size_t i = 0; i < X.rows; ++i)
    for (std::size_t j = 0; j < X.cols; ++j)
      m.at<float>(static_cast<int>(i), static_cast<int>(j)) = static_cast<float>(X(i, j));
  return m;
}

// Parameters with defaults; unknown names are rejected naming the family and the known ones.
json merge_params(const std::string& family, const json& defaults, const json& given) {
  json p = defaults;
  for (auto& [k, v] : given.items()) {
    if (k == "nthread" || k == "seed") continue;
    if (!defaults.contains(k)) {
      std::string known;
      for (auto& [dk, _] : defaults.items()) known += (known.empty() ? "" : ", ") + dk;
      throw UsageError("family '" + family + "' has no parameter '" + k + "' (known: " + known + ")");
    }
    p[k] = v;
  }
  return p;
}

// A regression tree on {0,1} (or ±1) targets: the squared-error split criterion on a binary target
// is the Gini impurity, and a leaf's value is its (weighted) class-1 share.
cv::Ptr<cv::ml::DTrees> make_tree(int max_depth, int min_samples) {
  auto t = cv::ml::DTrees::create();
  t->setMaxDepth(max_depth);
  t->setMinSampleCount(min_samples);
  t->setCVFolds(0);  // no cost-complexity pruning by internal CV
  t->setUseSurrogates(false);
  t->setUse1SERule(false);
  t->setTruncatePrunedTree(false);
  t->setRegressionAccuracy(0);
  t->setMaxCategories(2);
  return t;
}

cv::Ptr<cv::ml::TrainData> regression_data(const cv::Mat& X, const cv::Mat& target,
                                           const cv::Mat& weights = {}) {
  cv::Mat var_type(1, X.cols + 1, CV_8U, cv::Scalar(cv::ml::VAR_ORDERED));
  if (weights.empty())
    return cv::ml::TrainData::create(X, cv::ml::ROW_SAMPLE, target, cv::noArray(), cv::noArray(),
                                     cv::noArray(), var_type);
  return cv::ml::TrainData::create(X, cv::ml::ROW_SAMPLE, target, cv::noArray(), cv::noArray(), weights,
                                   var_type);
}

void check_fitted(bool ok, const std::string& family) {
  if (!ok) throw std::logic_error(family + ": predict before fit/load");
}

// ---------------------------------------------------------------- tree structure for explanations
// A fitted OpenCV tree flattened into pre-order (a node, then its left subtree, then its right one).
// The order depends only on the tree's shape, so statistics stored by pre-order index stay attached
// to the right nodes across OpenCV's own save/load (which renumbers its internal node array).
struct FlatTree {
  std::vector<int> var;          // split feature; -1 at a leaf
  std::vector<float> threshold;  // OpenCV's rule for ordered variables: left when float(x) <= threshold
  std::vector<int> left, right;  // children (pre-order indices); -1 at a leaf
  std::vector<int> default_dir;  // OpenCV's side for its missing-value marker (-1 left, +1 right)
  std::vector<double> value;     // OpenCV's node value (at a leaf: the tree's prediction)

  std::size_t size() const { return var.size(); }
  bool is_leaf(std::size_t n) const { return var[n] < 0; }

  // The child of internal node n that x goes to, exactly as DTreesImpl::predictTrees decides (no
  // surrogate splits are trained; the missing-value marker follows the node's default direction).
  int child(std::size_t n, std::span<const double> x) const {
    const float v = static_cast<float>(x[static_cast<std::size_t>(var[n])]);
    if (v == cv::ml::TrainData::missingValue()) return default_dir[n] < 0 ? left[n] : right[n];
    return v <= threshold[n] ? left[n] : right[n];
  }
  std::size_t leaf(std::span<const double> x) const {
    std::size_t n = 0;
    while (!is_leaf(n)) n = static_cast<std::size_t>(child(n, x));
    return n;
  }
  int max_var() const { return var.empty() ? -1 : *std::max_element(var.begin(), var.end()); }
  // The most splits from the root to a leaf (children come after their parent, pre-order).
  int depth() const {
    std::vector<int> d(size(), 0);
    int most = 0;
    for (std::size_t n = 0; n < size(); ++n) {
      most = std::max(most, d[n]);
      for (int c : {left[n], right[n]})
        if (c > 0 && static_cast<std::size_t>(c) < size()) d[static_cast<std::size_t>(c)] = d[n] + 1;
    }
    return most;
  }
};

// The cost model of these families' explanations (Classifier::contributions_cost): a fixed time per
// row and per node on its decision path (in-process walks over FlatTree), and for k-NN one brute-force
// neighbour search over every training row per feature asked about.
constexpr double kRowSeconds = 0.05e-6;
constexpr double kNodeSeconds = 3e-9;
constexpr double kKnnSecondsPerDistance = 0.04e-9;  // one feature of one training row (vectorised)

FlatTree flatten(const cv::ml::DTrees& t) {
  const auto& nodes = t.getNodes();
  const auto& splits = t.getSplits();
  const auto& roots = t.getRoots();
  if (roots.size() != 1) throw std::logic_error("OpenCV tree: expected exactly one root");
  FlatTree f;
  struct Item {
    int node, parent;
    bool is_left;
  };
  std::vector<Item> stack{{roots[0], -1, false}};
  while (!stack.empty()) {
    const Item it = stack.back();
    stack.pop_back();
    if (it.node < 0 || static_cast<std::size_t>(it.node) >= nodes.size())
      throw std::logic_error("OpenCV tree: node index out of range");
    const auto& nd = nodes[static_cast<std::size_t>(it.node)];
    const int me = static_cast<int>(f.size());
    if (it.parent >= 0) (it.is_left ? f.left : f.right)[static_cast<std::size_t>(it.parent)] = me;
    f.left.push_back(-1);
    f.right.push_back(-1);
    f.value.push_back(nd.value);
    f.default_dir.push_back(nd.defaultDir);
    if (nd.split < 0) {
      f.var.push_back(-1);
      f.threshold.push_back(0.f);
      continue;
    }
    if (nd.left < 0 || nd.right < 0 || static_cast<std::size_t>(nd.split) >= splits.size())
      throw std::logic_error("OpenCV tree: split node without two children");
    const auto& sp = splits[static_cast<std::size_t>(nd.split)];
    f.var.push_back(sp.varIdx);
    f.threshold.push_back(sp.c);
    stack.push_back({nd.right, me, false});  // popped after the whole left subtree: pre-order
    stack.push_back({nd.left, me, true});
  }
  return f;
}

// Sums per-leaf totals up the tree: each internal node gets the sum of its children (pre-order puts
// children after their parent, so one backward pass suffices).
void sum_up(const FlatTree& f, std::vector<double>& v) {
  for (std::size_t n = f.size(); n-- > 0;)
    if (!f.is_leaf(n))
      v[n] = v[static_cast<std::size_t>(f.left[n])] + v[static_cast<std::size_t>(f.right[n])];
}

// Training-row weights normalised to mean 1 (all 1 without sample weights).
std::vector<double> unit_weights(std::size_t n, const std::vector<float>* sw) {
  std::vector<double> w(n, 1.0);
  if (!sw || sw->size() != n) return w;
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += w[i] = (*sw)[i];
  if (s > 0)
    for (auto& v : w) v *= static_cast<double>(n) / s;
  return w;
}

void check_columns(const Matrix& X, std::size_t n_features, const std::string& family) {
  if (X.cols != n_features)
    throw DataError(family + ": " + std::to_string(X.cols) + " feature columns given, the model has " +
                    std::to_string(n_features));
}

void write_json(const std::filesystem::path& p, const json& j) { write_file_atomic(p, j.dump()); }

// The explanation data file, or null when the bundle predates it.
json read_explain_json(const std::filesystem::path& p, const std::string& format) {
  if (!std::filesystem::exists(p)) return nullptr;
  json j;
  try {
    j = json::parse(read_file(p));
  } catch (const json::exception& e) {
    throw DataError(p.string() + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("format") || j["format"] != format)
    throw DataError(p.string() + ": not a " + format + " file");
  if (!j.contains("version") || j["version"] != 1)
    throw DataError(p.string() + ": unsupported version " + j.value("version", json(nullptr)).dump());
  return j;
}

std::vector<double> doubles(const json& j, const char* key, std::size_t n, const std::filesystem::path& p) {
  std::vector<double> v;
  try {
    v = j.at(key).get<std::vector<double>>();
  } catch (const json::exception&) {
    throw DataError(p.string() + ": '" + key + "' missing or not a list of numbers");
  }
  if (v.size() != n || !std::all_of(v.begin(), v.end(), [](double d) { return std::isfinite(d); }))
    throw DataError(p.string() + ": '" + key + "' does not match the model");
  return v;
}

void check_shape(const json& j, const FlatTree& f, const std::filesystem::path& p) {
  std::vector<int> vars;
  try {
    vars = j.at("split_var").get<std::vector<int>>();
  } catch (const json::exception&) {
    throw DataError(p.string() + ": 'split_var' missing or not a list of integers");
  }
  if (vars != f.var) throw DataError(p.string() + ": explanation data does not match the model's tree");
}

// Mean |contribution| of each feature over rows (the global importance the explanations imply).
std::vector<double> mean_abs(const Matrix& c, std::size_t n_features) {
  std::vector<double> imp(n_features, 0.0);
  for (std::size_t i = 0; i < c.rows; ++i)
    for (std::size_t j = 0; j < n_features; ++j) imp[j] += std::abs(c(i, j));
  for (auto& v : imp) v /= std::max<double>(1.0, static_cast<double>(c.rows));
  return imp;
}

std::vector<double> importance_or_zeros(const std::vector<double>& imp, std::size_t n_features) {
  std::vector<double> out(n_features, 0.0);
  for (std::size_t j = 0; j < std::min(n_features, imp.size()); ++j) out[j] = imp[j];
  return out;
}

// ---------------------------------------------------------------- decision tree (Gini)
// Probabilities: each leaf's class-1 share among the (weighted) training rows that reach it, Laplace
// smoothed, (w1 + 1) / (w + 2), so that pure leaves have finite log-odds. The smoothing never moves a
// share across 0.5, so labels at the default threshold are OpenCV's. Bundles without the node
// statistics (saved before they existed) predict OpenCV's raw leaf value and cannot explain.
class OpenCvTree final : public Classifier {
 public:
  explicit OpenCvTree(const json& p)
      : params_(merge_params("decision_tree_gini", {{"max_depth", 12}, {"min_samples_leaf", 1}}, p)) {}
  std::string family() const override { return "decision_tree_gini"; }
  json params() const override { return params_; }
  void fit(const Matrix& X, const Labels& y, const std::vector<float>* w) override {
    cv::Mat target(static_cast<int>(y.size()), 1, CV_32F), weights;
    for (std::size_t i = 0; i < y.size(); ++i)
      target.at<float>(static_cast<int>(i)) = static_cast<float>(y[i]);
    if (w) weights = cv::Mat(*w, true);
    tree_ =
        make_tree(params_["max_depth"].get<int>(), std::max(2, 2 * params_["min_samples_leaf"].get<int>()));
    tree_->train(regression_data(to_mat(X), target, weights));
    fit_node_stats(X, y, w);
  }
  std::vector<double> predict_proba(const Matrix& X) const override {
    check_fitted(!tree_.empty() && tree_->isTrained(), family());
    std::vector<double> p(X.rows);
    if (!explainable_) {  // a bundle from before the node statistics: OpenCV's leaf value
      cv::Mat out;
      tree_->predict(to_mat(X), out);
      for (std::size_t i = 0; i < X.rows; ++i)
        p[i] = std::clamp<double>(out.at<float>(static_cast<int>(i)), 0.0, 1.0);
      return p;
    }
    check_columns(X, n_features_, family());
    for (std::size_t i = 0; i < X.rows; ++i) p[i] = share_[shape_.leaf(X.row(i))];
    return p;
  }
  // Saabas path attribution in log-odds: the bias is the root's log-odds, and each split on the path
  // adds (child's log-odds - node's log-odds) to its feature; the sum is the leaf's log-odds.
  std::optional<Matrix> contributions(const Matrix& X) const override {
    check_fitted(!tree_.empty() && tree_->isTrained(), family());
    if (!explainable_) return std::nullopt;
    check_columns(X, n_features_, family());
    Matrix c(X.rows, n_features_ + 1, 0.0);
    for (std::size_t i = 0; i < X.rows; ++i) {
      const auto x = X.row(i);
      c(i, n_features_) = logit_[0];
      for (std::size_t n = 0; !shape_.is_leaf(n);) {
        const auto next = static_cast<std::size_t>(shape_.child(n, x));
        c(i, static_cast<std::size_t>(shape_.var[n])) += logit_[next] - logit_[n];
        n = next;
      }
    }
    return c;
  }
  std::optional<double> contributions_cost() const override {
    if (!explainable_) return std::nullopt;
    return kRowSeconds + kNodeSeconds * (shape_.depth() + 1);
  }
  std::vector<double> feature_importance(std::size_t n_features) const override {
    return importance_or_zeros(importance_, n_features);
  }
  void save(const std::filesystem::path& dir) const override {
    std::filesystem::create_directories(dir);
    tree_->save((dir / "opencv_tree.yaml").string());
    if (explainable_)
      write_json(dir / kStatsFile, {{"format", kStatsFormat},
                                    {"version", 1},
                                    {"n_features", n_features_},
                                    {"smoothing", kSmoothing},
                                    {"split_var", shape_.var},
                                    {"weight", weight_},
                                    {"positive_weight", positive_},
                                    {"importance", importance_}});
  }
  void load(const std::filesystem::path& dir) override {
    auto f = dir / "opencv_tree.yaml";
    if (!std::filesystem::exists(f)) throw DataError(f.string() + ": model file missing");
    tree_ = cv::Algorithm::load<cv::ml::DTrees>(f.string());
    if (tree_.empty() || !tree_->isTrained()) throw DataError(f.string() + ": not a valid OpenCV tree model");
    explainable_ = false;
    const auto sf = dir / kStatsFile;
    try {
      const json j = read_explain_json(sf, kStatsFormat);
      if (j.is_null()) return;
      FlatTree shape = flatten(*tree_);
      check_shape(j, shape, sf);
      const auto nf = j.at("n_features").get<std::size_t>();
      if (j.at("smoothing").get<double>() != kSmoothing || static_cast<std::size_t>(shape.max_var() + 1) > nf)
        throw DataError(sf.string() + ": explanation data does not match the model");
      auto weight = doubles(j, "weight", shape.size(), sf);
      auto positive = doubles(j, "positive_weight", shape.size(), sf);
      importance_ = doubles(j, "importance", nf, sf);
      set_stats(std::move(shape), std::move(weight), std::move(positive), nf);
    } catch (const json::exception& e) {
      throw DataError(sf.string() + ": malformed explanation data (" + e.what() + ")");
    }
  }

 private:
  static constexpr double kSmoothing = 1.0;  // Laplace: (w1 + 1) / (w + 2)
  static constexpr const char* kStatsFile = "opencv_tree_explain.json";
  static constexpr const char* kStatsFormat = "netsentry-opencv-tree-stats";

  // Passes the training rows down the tree: per node, their total weight and class-1 weight.
  void fit_node_stats(const Matrix& X, const Labels& y, const std::vector<float>* sw) {
    FlatTree shape = flatten(*tree_);
    const auto w = unit_weights(X.rows, sw);
    std::vector<double> weight(shape.size(), 0.0), positive(shape.size(), 0.0);
    for (std::size_t i = 0; i < X.rows; ++i) {
      const auto leaf = shape.leaf(X.row(i));
      weight[leaf] += w[i];
      if (y[i] == 1) positive[leaf] += w[i];
    }
    sum_up(shape, weight);
    sum_up(shape, positive);
    set_stats(std::move(shape), std::move(weight), std::move(positive), X.cols);
    importance_ = mean_abs(*contributions(X), X.cols);
  }
  void set_stats(FlatTree shape, std::vector<double> weight, std::vector<double> positive, std::size_t nf) {
    shape_ = std::move(shape);
    weight_ = std::move(weight);
    positive_ = std::move(positive);
    n_features_ = nf;
    share_.resize(shape_.size());
    logit_.resize(shape_.size());
    for (std::size_t n = 0; n < shape_.size(); ++n) {
      share_[n] = (positive_[n] + kSmoothing) / (weight_[n] + 2 * kSmoothing);
      logit_[n] = clamped_logit(share_[n]);
    }
    explainable_ = true;
  }

  json params_;
  cv::Ptr<cv::ml::DTrees> tree_;
  bool explainable_ = false;
  std::size_t n_features_ = 0;
  FlatTree shape_;
  std::vector<double> weight_, positive_, share_, logit_, importance_;
};

// ---------------------------------------------------------------- AdaBoost (SAMME, two classes)
// OpenCV's own Boost has no learning rate (shrinkage), which the reference search space varies, so
// the reweighting loop (SAMME, as scikit-learn's AdaBoostClassifier) is written here around
// OpenCV decision trees as the weak learners.
class AdaBoost final : public Classifier {
 public:
  explicit AdaBoost(const json& p)
      : params_(
            merge_params("adaboost", {{"n_estimators", 50}, {"learning_rate", 1.0}, {"max_depth", 1}}, p)) {}
  std::string family() const override { return "adaboost"; }
  json params() const override { return params_; }

  void fit(const Matrix& X, const Labels& y, const std::vector<float>* sw) override {
    const int n_est = params_["n_estimators"].get<int>();
    const double lr = params_["learning_rate"].get<double>();
    const int n = static_cast<int>(y.size());
    const cv::Mat Xm = to_mat(X);
    cv::Mat target(n, 1, CV_32F);
    for (int i = 0; i < n; ++i) target.at<float>(i) = y[static_cast<std::size_t>(i)] == 1 ? 1.f : -1.f;
    std::vector<double> w(static_cast<std::size_t>(n), 1.0 / n);
    if (sw) {
      double s = 0;
      for (int i = 0; i < n; ++i) s += w[static_cast<std::size_t>(i)] = (*sw)[static_cast<std::size_t>(i)];
      for (auto& v : w) v /= s;
    }
    trees_.clear();
    alphas_.clear();
    cv::Mat pred;
    for (int m = 0; m < n_est; ++m) {
      cv::Mat wm(n, 1, CV_32F);
      for (int i = 0; i < n; ++i) wm.at<float>(i) = static_cast<float>(w[static_cast<std::size_t>(i)] * n);
      auto tree = make_tree(params_["max_depth"].get<int>(), 2);
      tree->train(regression_data(Xm, target, wm));
      tree->predict(Xm, pred);
      double err = 0;
      for (int i = 0; i < n; ++i)
        if ((pred.at<float>(i) >= 0 ? 1 : -1) != (target.at<float>(i) > 0 ? 1 : -1))
          err += w[static_cast<std::size_t>(i)];
      if (err <= 0) {  // a perfect weak learner: keep it with a large weight and stop, as scikit-learn
        trees_.push_back(tree);
        alphas_.push_back(1.0);
        break;
      }
      if (err >= 0.5) {
        if (trees_.empty()) {  // no better than chance: keep it so the model can predict at all
          trees_.push_back(tree);
          alphas_.push_back(1.0);
        }
        break;
      }
      const double alpha = lr * std::log((1 - err) / err);
      double total = 0;
      for (int i = 0; i < n; ++i) {
        auto& wi = w[static_cast<std::size_t>(i)];
        if ((pred.at<float>(i) >= 0 ? 1 : -1) != (target.at<float>(i) > 0 ? 1 : -1)) wi *= std::exp(alpha);
        total += wi;
      }
      for (auto& v : w) v /= total;
      trees_.push_back(tree);
      alphas_.push_back(alpha);
    }
    fit_node_stats(X, sw);
  }

  std::vector<double> predict_proba(const Matrix& X) const override {
    return staged(X, static_cast<int>(trees_.size()));
  }
  std::optional<std::vector<double>> predict_proba_first(const Matrix& X, int n) const override {
    return staged(X, n);
  }

  // predict_proba is sigmoid(scale * F) with F = sum_t alpha_t * vote_t(x), vote = ±1, and
  // scale = 2 / sum_t alpha_t, so the log-odds are scale * F. Each term is split as
  // alpha_t * E_t + alpha_t * (vote_t(x) - E_t), E_t its mean vote over the training rows: the first
  // parts make the bias, the second is attributed along the tree's decision path (Saabas: each split
  // gets the change in the mean vote of the training rows from the node to the child taken). A
  // stump's whole deviation goes to its one split feature; a feature no tree splits on gets 0.
  std::optional<Matrix> contributions(const Matrix& X) const override {
    check_fitted(!trees_.empty(), family());
    if (!explainable_) return std::nullopt;
    check_columns(X, n_features_, family());
    const double scale = 2.0 / std::max(total_alpha(), 1e-12);
    double bias = 0;
    for (std::size_t t = 0; t < shapes_.size(); ++t) bias += alphas_[t] * mean_vote_[t][0];
    Matrix c(X.rows, n_features_ + 1, 0.0);
    for (std::size_t i = 0; i < X.rows; ++i) {
      const auto x = X.row(i);
      for (std::size_t t = 0; t < shapes_.size(); ++t) {
        const auto& f = shapes_[t];
        const auto& mean = mean_vote_[t];
        const double k = scale * alphas_[t];
        for (std::size_t n = 0; !f.is_leaf(n);) {
          const auto next = static_cast<std::size_t>(f.child(n, x));
          c(i, static_cast<std::size_t>(f.var[n])) += k * (mean[next] - mean[n]);
          n = next;
        }
      }
      c(i, n_features_) = scale * bias;
    }
    return c;
  }
  std::optional<double> contributions_cost() const override {
    if (!explainable_) return std::nullopt;
    double nodes = 0;
    for (const auto& f : shapes_) nodes += f.depth() + 1;
    return kRowSeconds + kNodeSeconds * nodes;
  }
  std::vector<double> feature_importance(std::size_t n_features) const override {
    return importance_or_zeros(importance_, n_features);
  }

  void save(const std::filesystem::path& dir) const override {
    std::filesystem::create_directories(dir);
    cv::FileStorage fs((dir / "adaboost.yaml").string(), cv::FileStorage::WRITE);
    fs << "alphas" << std::vector<double>(alphas_);
    fs << "trees"
       << "[";
    for (auto& t : trees_) {
      fs << "{";
      t->write(fs);
      fs << "}";
    }
    fs << "]";
    fs.release();
    if (!explainable_) return;
    json trees = json::array();
    for (std::size_t t = 0; t < shapes_.size(); ++t)
      trees.push_back({{"split_var", shapes_[t].var}, {"weight", weight_[t]}, {"mean_vote", mean_vote_[t]}});
    write_json(dir / kStatsFile, {{"format", kStatsFormat},
                                  {"version", 1},
                                  {"n_features", n_features_},
                                  {"trees", trees},
                                  {"importance", importance_}});
  }

  void load(const std::filesystem::path& dir) override {
    auto f = dir / "adaboost.yaml";
    if (!std::filesystem::exists(f)) throw DataError(f.string() + ": model file missing");
    try {
      cv::FileStorage fs(f.string(), cv::FileStorage::READ);
      fs["alphas"] >> alphas_;
      trees_.clear();
      for (auto node : fs["trees"]) {
        auto t = cv::ml::DTrees::create();
        t->read(node);
        trees_.push_back(t);
      }
    } catch (const cv::Exception& e) {
      throw DataError(f.string() + ": not a valid AdaBoost model (" + e.what() + ")");
    }
    if (trees_.empty() || trees_.size() != alphas_.size())
      throw DataError(f.string() + ": malformed AdaBoost model");
    explainable_ = false;
    const auto sf = dir / kStatsFile;
    try {
      const json j = read_explain_json(sf, kStatsFormat);
      if (j.is_null()) return;
      const auto nf = j.at("n_features").get<std::size_t>();
      const json& trees = j.at("trees");
      if (!trees.is_array() || trees.size() != trees_.size())
        throw DataError(sf.string() + ": explanation data does not match the model");
      std::vector<FlatTree> shapes;
      std::vector<std::vector<double>> weight, mean;
      for (std::size_t t = 0; t < trees_.size(); ++t) {
        shapes.push_back(flatten(*trees_[t]));
        check_shape(trees[t], shapes.back(), sf);
        if (static_cast<std::size_t>(shapes.back().max_var() + 1) > nf)
          throw DataError(sf.string() + ": explanation data does not match the model");
        weight.push_back(doubles(trees[t], "weight", shapes.back().size(), sf));
        mean.push_back(doubles(trees[t], "mean_vote", shapes.back().size(), sf));
      }
      importance_ = doubles(j, "importance", nf, sf);
      shapes_ = std::move(shapes);
      weight_ = std::move(weight);
      mean_vote_ = std::move(mean);
      n_features_ = nf;
      explainable_ = true;
    } catch (const json::exception& e) {
      throw DataError(sf.string() + ": malformed explanation data (" + e.what() + ")");
    }
  }

 private:
  // P(class 1) from the first n weak learners: sigmoid of the normalised weighted vote.
  std::vector<double> staged(const Matrix& X, int n) const {
    check_fitted(!trees_.empty(), family());
    n = std::min<int>(n, static_cast<int>(trees_.size()));
    const cv::Mat Xm = to_mat(X);
    std::vector<double> f(X.rows, 0.0);
    double total = 0;
    cv::Mat pred;
    for (int m = 0; m < n; ++m) {
      trees_[static_cast<std::size_t>(m)]->predict(Xm, pred);
      const double a = alphas_[static_cast<std::size_t>(m)];
      total += a;
      for (std::size_t i = 0; i < X.rows; ++i)
        f[i] += a * (pred.at<float>(static_cast<int>(i)) >= 0 ? 1.0 : -1.0);
    }
    for (auto& v : f) v = 1.0 / (1.0 + std::exp(-2.0 * v / std::max(total, 1e-12)));
    return f;
  }

  static constexpr const char* kStatsFile = "adaboost_explain.json";
  static constexpr const char* kStatsFormat = "netsentry-adaboost-stats";

  double total_alpha() const {
    double total = 0;
    for (auto a : alphas_) total += a;  // summed in the same order as staged()
    return total;
  }

  // Passes the training rows down every tree: per node, the rows' total weight and mean vote (±1 at a
  // leaf; a node no training row reaches takes its children's plain average).
  void fit_node_stats(const Matrix& X, const std::vector<float>* sw) {
    const auto w = unit_weights(X.rows, sw);
    shapes_.clear();
    weight_.clear();
    mean_vote_.clear();
    for (const auto& tree : trees_) {
      FlatTree f = flatten(*tree);
      std::vector<double> weight(f.size(), 0.0), mean(f.size(), 0.0);
      for (std::size_t i = 0; i < X.rows; ++i) weight[f.leaf(X.row(i))] += w[i];
      sum_up(f, weight);
      for (std::size_t n = f.size(); n-- > 0;) {
        if (f.is_leaf(n)) {
          mean[n] = static_cast<float>(f.value[n]) >= 0 ? 1.0 : -1.0;  // as staged() reads OpenCV's output
          continue;
        }
        const auto l = static_cast<std::size_t>(f.left[n]), r = static_cast<std::size_t>(f.right[n]);
        mean[n] = weight[n] > 0 ? (weight[l] * mean[l] + weight[r] * mean[r]) / weight[n]
                                : 0.5 * (mean[l] + mean[r]);
      }
      shapes_.push_back(std::move(f));
      weight_.push_back(std::move(weight));
      mean_vote_.push_back(std::move(mean));
    }
    n_features_ = X.cols;
    explainable_ = true;
    importance_ = mean_abs(*contributions(X), X.cols);
  }

  json params_;
  std::vector<cv::Ptr<cv::ml::DTrees>> trees_;
  std::vector<double> alphas_;
  // Explanation data (absent in bundles saved before it existed).
  bool explainable_ = false;
  std::size_t n_features_ = 0;
  std::vector<FlatTree> shapes_;
  std::vector<std::vector<double>> weight_, mean_vote_;
  std::vector<double> importance_;
};

// ---------------------------------------------------------------- k-nearest neighbours
class Knn final : public Classifier {
 public:
  explicit Knn(const json& p) : params_(merge_params("knn", {{"n_neighbors", 5}}, p)) {}
  std::string family() const override { return "knn"; }
  json params() const override { return params_; }
  void fit(const Matrix& X, const Labels& y, const std::vector<float>*) override {
    cv::Mat resp(static_cast<int>(y.size()), 1, CV_32F);
    for (std::size_t i = 0; i < y.size(); ++i) resp.at<float>(static_cast<int>(i)) = static_cast<float>(y[i]);
    knn_ = cv::ml::KNearest::create();
    knn_->setIsClassifier(true);
    knn_->setDefaultK(params_["n_neighbors"].get<int>());
    knn_->train(to_mat(X), cv::ml::ROW_SAMPLE, resp);
    training_rows_ = X.rows;
    // The explanation baseline: each feature's training median (NaN ignored).
    baseline_.assign(X.cols, 0.0);
    std::vector<double> col;
    for (std::size_t j = 0; j < X.cols; ++j) {
      col.clear();
      for (std::size_t i = 0; i < X.rows; ++i)
        if (!std::isnan(X(i, j))) col.push_back(X(i, j));
      if (col.empty()) continue;
      const auto mid = col.begin() + static_cast<std::ptrdiff_t>(col.size() / 2);
      std::nth_element(col.begin(), mid, col.end());
      double m = *mid;
      if (col.size() % 2 == 0) m = 0.5 * (m + *std::max_element(col.begin(), mid));
      baseline_[j] = m;
    }
  }
  std::vector<double> predict_proba(const Matrix& X) const override {
    check_fitted(!knn_.empty() && knn_->isTrained(), family());
    const int k = params_["n_neighbors"].get<int>();
    cv::Mat results, neighbours;
    knn_->findNearest(to_mat(X), k, results, neighbours);
    std::vector<double> p(X.rows, 0.0);
    for (int i = 0; i < neighbours.rows; ++i) {
      double s = 0;
      for (int j = 0; j < neighbours.cols; ++j) s += neighbours.at<float>(i, j);
      p[static_cast<std::size_t>(i)] = s / neighbours.cols;
    }
    return p;
  }
  // A model-agnostic approximation (k-NN has no additive structure). With L = clamped_logit(p) and b
  // the baseline (each feature's training median): for row x and feature j,
  //   d_j = L(x) - L(x with x_j replaced by b_j),
  // the bias is L(b), and the d_j are rescaled to add up to L(x) - L(b): multiplied by
  // (L(x) - L(b)) / sum(d) when that ratio is positive, otherwise the remainder is spread in
  // proportion to |d_j|. When no single replacement changes the neighbours' vote (every d_j = 0, common
  // for rows deep inside one class), the reverse effects d_j = L(b with b_j set to x_j) - L(b) are used
  // the same way; if those are all 0 too, the difference is split evenly over the features that differ
  // from the baseline. A feature equal to its baseline always gets 0. Costs one neighbour search per
  // feature that differs from the baseline (two for the rows that need the reverse effects).
  std::optional<Matrix> contributions(const Matrix& X) const override {
    check_fitted(!knn_.empty() && knn_->isTrained(), family());
    if (baseline_.empty()) return std::nullopt;
    const std::size_t nf = baseline_.size();
    check_columns(X, nf, family());
    Matrix base(1, nf);
    std::copy(baseline_.begin(), baseline_.end(), base.data.begin());
    const double l0 = clamped_logit(predict_proba(base)[0]);
    Matrix c(X.rows, nf + 1, 0.0);
    constexpr std::size_t kBlock = 256;  // rows per batch of neighbour searches
    struct Query {
      std::size_t row, feature;
    };
    std::vector<Query> removed, added;  // x with x_j := b_j; b with b_j := x_j
    std::vector<double> l(kBlock);
    // The effects d_j of the queries [q, end) of one row (all for `row`), from their log-odds.
    auto effects = [&](const std::vector<Query>& qs, std::size_t& q, std::size_t row,
                       const std::vector<double>& lq, bool from_x, std::vector<double>& d) {
      std::fill(d.begin(), d.end(), 0.0);
      for (; q < qs.size() && qs[q].row == row; ++q)
        d[qs[q].feature] = from_x ? l[row % kBlock] - lq[q] : lq[q] - l0;
    };
    // Writes row i's contributions from effects d; false when every effect is 0 (nothing to scale).
    auto attribute = [&](std::size_t i, const std::vector<double>& d, bool last_resort) {
      const double total = l[i % kBlock] - l0;
      double sum = 0, sum_abs = 0;
      std::size_t differing = 0;
      for (std::size_t j = 0; j < nf; ++j) {
        sum += d[j];
        sum_abs += std::abs(d[j]);
        differing += !(X(i, j) == baseline_[j]);
      }
      if (sum_abs == 0 && total != 0 && !last_resort) return false;
      for (std::size_t j = 0; j < nf; ++j) {
        double cj;
        if (total * sum > 0)
          cj = d[j] * (total / sum);
        else if (sum_abs > 0)
          cj = d[j] + (total - sum) * (std::abs(d[j]) / sum_abs);
        else
          cj = X(i, j) == baseline_[j] || differing == 0 ? 0.0 : total / static_cast<double>(differing);
        c(i, j) = cj;
      }
      c(i, nf) = l0;
      return true;
    };
    auto log_odds = [&](const std::vector<Query>& qs, bool from_x) {
      Matrix Q(qs.size(), nf);
      for (std::size_t q = 0; q < qs.size(); ++q) {
        auto row = Q.row(q);
        if (from_x)
          std::copy(X.row(qs[q].row).begin(), X.row(qs[q].row).end(), row.begin());
        else
          std::copy(baseline_.begin(), baseline_.end(), row.begin());
        row[qs[q].feature] = from_x ? baseline_[qs[q].feature] : X(qs[q].row, qs[q].feature);
      }
      std::vector<double> out = qs.empty() ? std::vector<double>{} : predict_proba(Q);
      for (auto& v : out) v = clamped_logit(v);
      return out;
    };
    std::vector<double> d(nf);
    for (std::size_t r0 = 0; r0 < X.rows; r0 += kBlock) {
      const std::size_t r1 = std::min(X.rows, r0 + kBlock);
      std::vector<std::size_t> rows(r1 - r0);
      std::iota(rows.begin(), rows.end(), r0);
      const auto p = predict_proba(X.take_rows(rows));
      for (std::size_t i = r0; i < r1; ++i) l[i % kBlock] = clamped_logit(p[i - r0]);
      removed.clear();
      for (std::size_t i = r0; i < r1; ++i)
        for (std::size_t j = 0; j < nf; ++j)
          if (!(X(i, j) == baseline_[j])) removed.push_back({i, j});
      const auto lr = log_odds(removed, true);
      added.clear();
      std::vector<std::size_t> pending;
      for (std::size_t i = r0, q = 0; i < r1; ++i) {
        const std::size_t first = q;
        effects(removed, q, i, lr, true, d);
        if (attribute(i, d, false)) continue;
        pending.push_back(i);
        for (std::size_t k = first; k < q; ++k) added.push_back(removed[k]);
      }
      const auto la = log_odds(added, false);
      for (std::size_t i : pending) {
        std::size_t q = static_cast<std::size_t>(
            std::lower_bound(added.begin(), added.end(), i,
                             [](const Query& a, std::size_t r) { return a.row < r; }) -
            added.begin());
        effects(added, q, i, la, false, d);
        attribute(i, d, true);
      }
    }
    return c;
  }
  // Up to two neighbour searches per feature (the removed and, for some rows, the added effects),
  // each over every training row and feature.
  std::optional<double> contributions_cost() const override {
    if (baseline_.empty()) return std::nullopt;
    const double nf = static_cast<double>(baseline_.size());
    return kRowSeconds + kKnnSecondsPerDistance * (2 * nf + 1) * nf * static_cast<double>(training_rows());
  }
  void save(const std::filesystem::path& dir) const override {
    std::filesystem::create_directories(dir);
    knn_->save((dir / "opencv_knn.yaml").string());
    if (!baseline_.empty())
      write_json(dir / kStatsFile, {{"format", kStatsFormat}, {"version", 1}, {"baseline", baseline_}});
  }
  void load(const std::filesystem::path& dir) override {
    auto f = dir / "opencv_knn.yaml";
    if (!std::filesystem::exists(f)) throw DataError(f.string() + ": model file missing");
    knn_ = cv::Algorithm::load<cv::ml::KNearest>(f.string());
    if (knn_.empty() || !knn_->isTrained()) throw DataError(f.string() + ": not a valid OpenCV kNN model");
    training_rows_ = stored_rows(f);
    baseline_.clear();
    const auto sf = dir / kStatsFile;
    const json j = read_explain_json(sf, kStatsFormat);
    if (j.is_null()) return;
    const auto n = j.contains("baseline") && j["baseline"].is_array() ? j["baseline"].size() : 0;
    if (n == 0 || static_cast<int>(n) != knn_->getVarCount())
      throw DataError(sf.string() + ": 'baseline' does not match the model");
    baseline_ = doubles(j, "baseline", n, sf);  // doubles() turns JSON type errors into DataError
  }

 private:
  static constexpr const char* kStatsFile = "opencv_knn_explain.json";
  static constexpr const char* kStatsFormat = "netsentry-knn-baseline";

  // The training rows kept in the model file (its "samples" matrix); 0 if the file has none.
  static std::size_t stored_rows(const std::filesystem::path& f) {
    cv::FileStorage fs(f.string(), cv::FileStorage::READ);
    cv::Mat samples;
    if (fs.isOpened()) fs.getFirstTopLevelNode()["samples"] >> samples;
    return static_cast<std::size_t>(samples.rows);
  }
  std::size_t training_rows() const { return training_rows_; }

  json params_;
  cv::Ptr<cv::ml::KNearest> knn_;
  std::size_t training_rows_ = 0;
  std::vector<double> baseline_;  // per-feature training medians; empty in bundles saved before them
};

template <class T>
FamilyFactory make() {
  return [](const json& p) -> std::unique_ptr<Classifier> { return std::make_unique<T>(p); };
}

}  // namespace

NETSENTRY_REGISTER_FAMILY(decision_tree_gini,
                          FamilyInfo{"decision_tree_gini", "CART decision tree, Gini criterion (OpenCV)",
                                     make<OpenCvTree>(), 1});
NETSENTRY_REGISTER_FAMILY(adaboost, FamilyInfo{"adaboost", "AdaBoost (SAMME) over OpenCV decision stumps",
                                               make<AdaBoost>(), 2, true});
NETSENTRY_REGISTER_FAMILY(knn, FamilyInfo{"knn", "k-nearest neighbours (OpenCV)", make<Knn>(), 1});

}  // namespace netsentry
