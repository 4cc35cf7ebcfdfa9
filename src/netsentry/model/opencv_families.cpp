// Model families backed by OpenCV's ml module (libopencv-ml): a CART decision tree with the Gini
// criterion, AdaBoost (SAMME) over OpenCV decision stumps, and k-nearest neighbours.
// Models are saved with cv::FileStorage (YAML: data only).
//
// K > 2 classes: the tree and the weak learners are OpenCV classification trees (Gini), AdaBoost is
// multi-class SAMME (as scikit-learn's), k-NN gives each class's share of the neighbours' votes.
//
// Explanations (contributions(): per-feature shares of the log-odds of class 1, bias last; for K > 2
// one such block per class, of that class's margin, whose softmax over the classes is the
// probabilities):
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

// K > 2 classes: a classification tree's training data (class indices as a categorical response).
cv::Ptr<cv::ml::TrainData> class_data(const cv::Mat& X, const Labels& y, const cv::Mat& weights = {}) {
  cv::Mat var_type(1, X.cols + 1, CV_8U, cv::Scalar(cv::ml::VAR_ORDERED));
  var_type.at<uchar>(X.cols) = cv::ml::VAR_CATEGORICAL;
  cv::Mat target(static_cast<int>(y.size()), 1, CV_32S);
  for (std::size_t i = 0; i < y.size(); ++i) target.at<int>(static_cast<int>(i)) = y[i];
  if (weights.empty())
    return cv::ml::TrainData::create(X, cv::ml::ROW_SAMPLE, target, cv::noArray(), cv::noArray(),
                                     cv::noArray(), var_type);
  return cv::ml::TrainData::create(X, cv::ml::ROW_SAMPLE, target, cv::noArray(), cv::noArray(), weights,
                                   var_type);
}

// A class margin for K > 2 classes: the log of its probability, clamped as clamped_logit clamps.
double log_share(double p) { return std::log(std::max(p, kLogOddsEpsilon)); }

// A row of K margins as probabilities (softmax, the largest margin subtracted first).
void softmax(std::span<double> v) {
  const double top = *std::max_element(v.begin(), v.end());
  double z = 0;
  for (auto& x : v) z += x = std::exp(x - top);
  for (auto& x : v) x /= z;
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
// children after their parent, so one backward pass suffices). `width` values per node (node-major).
void sum_up(const FlatTree& f, std::vector<double>& v, std::size_t width = 1) {
  for (std::size_t n = f.size(); n-- > 0;)
    if (!f.is_leaf(n))
      for (std::size_t k = 0; k < width; ++k)
        v[n * width + k] = v[static_cast<std::size_t>(f.left[n]) * width + k] +
                           v[static_cast<std::size_t>(f.right[n]) * width + k];
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

// An OpenCV model file read by OpenCV; DataError naming the file when it is missing, unreadable
// (OpenCV's parser throws cv::Exception) or holds no trained model of that kind.
template <class T>
cv::Ptr<T> load_opencv_model(const std::filesystem::path& f, const char* kind) {
  if (!std::filesystem::exists(f)) throw DataError(f.string() + ": model file missing");
  cv::Ptr<T> m;
  try {
    m = cv::Algorithm::load<T>(f.string());
  } catch (const cv::Exception& e) {
    throw DataError(f.string() + ": not a valid OpenCV " + kind + " model (" + e.what() + ")");
  }
  if (m.empty() || !m->isTrained()) throw DataError(f.string() + ": not a valid OpenCV " + kind + " model");
  return m;
}

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

// Mean |contribution| of each feature over rows, summed over the class blocks (the global importance
// the explanations imply).
std::vector<double> mean_abs(const Matrix& c, std::size_t n_features) {
  std::vector<double> imp(n_features, 0.0);
  const std::size_t blocks = c.cols / (n_features + 1);
  for (std::size_t i = 0; i < c.rows; ++i)
    for (std::size_t b = 0; b < blocks; ++b)
      for (std::size_t j = 0; j < n_features; ++j) imp[j] += std::abs(c(i, b * (n_features + 1) + j));
  for (auto& v : imp) v /= std::max<double>(1.0, static_cast<double>(c.rows));
  return imp;
}

std::vector<double> importance_or_zeros(const std::vector<double>& imp, std::size_t n_features) {
  std::vector<double> out(n_features, 0.0);
  for (std::size_t j = 0; j < std::min(n_features, imp.size()); ++j) out[j] = imp[j];
  return out;
}

// ---------------------------------------------------------------- decision tree (Gini)
// Probabilities: each leaf's class shares among the (weighted) training rows that reach it, Laplace
// smoothed, (w_k + 1) / (w + K), so that pure leaves have finite log-odds. Two classes: a regression
// tree on the 0/1 target (squared error on a binary target is the Gini impurity); the smoothing never
// moves a share across 0.5, so labels at the default threshold are OpenCV's. K > 2: an OpenCV
// classification tree (Gini). Bundles without the node statistics (saved before they existed)
// predict OpenCV's raw leaf value and cannot explain.
class OpenCvTree final : public Classifier {
 public:
  explicit OpenCvTree(const json& p)
      : params_(merge_params("decision_tree_gini", {{"max_depth", 12}, {"min_samples_leaf", 1}}, p)) {}
  std::string family() const override { return "decision_tree_gini"; }
  json params() const override { return params_; }
  void fit(const Matrix& X, const Labels& y, const std::vector<float>* w) override {
    cv::Mat weights;
    if (w) weights = cv::Mat(*w, true);
    tree_ =
        make_tree(params_["max_depth"].get<int>(), std::max(2, 2 * params_["min_samples_leaf"].get<int>()));
    if (classes_ > 2) {
      tree_->train(class_data(to_mat(X), y, weights));
    } else {
      cv::Mat target(static_cast<int>(y.size()), 1, CV_32F);
      for (std::size_t i = 0; i < y.size(); ++i)
        target.at<float>(static_cast<int>(i)) = static_cast<float>(y[i]);
      tree_->train(regression_data(to_mat(X), target, weights));
    }
    fit_node_stats(X, y, w);
  }
  std::vector<double> predict_proba(const Matrix& X) const override {
    check_fitted(!tree_.empty() && tree_->isTrained(), family());
    if (!explainable_) {  // a two-class bundle from before the node statistics: OpenCV's leaf value
      std::vector<double> p(X.rows);
      cv::Mat out;
      tree_->predict(to_mat(X), out);
      for (std::size_t i = 0; i < X.rows; ++i)
        p[i] = std::clamp<double>(out.at<float>(static_cast<int>(i)), 0.0, 1.0);
      return p;
    }
    check_columns(X, n_features_, family());
    const std::size_t k = width();
    std::vector<double> p(X.rows * (k == 2 ? 1 : k));
    for (std::size_t i = 0; i < X.rows; ++i) {
      const std::size_t leaf = shape_.leaf(X.row(i));
      if (k == 2)
        p[i] = share_[leaf * 2 + 1];
      else
        std::copy_n(share_.begin() + static_cast<std::ptrdiff_t>(leaf * k), k,
                    p.begin() + static_cast<std::ptrdiff_t>(i * k));
    }
    return p;
  }
  // Saabas path attribution of each margin (two classes: class 1's log-odds; K > 2: each class's log
  // share): the bias is the root's margin, and each split on the path adds (child's margin - node's
  // margin) to its feature; the sum is the leaf's margin.
  std::optional<Matrix> contributions(const Matrix& X) const override {
    check_fitted(!tree_.empty() && tree_->isTrained(), family());
    if (!explainable_) return std::nullopt;
    check_columns(X, n_features_, family());
    const std::size_t blocks = margins(), nf = n_features_;
    Matrix c(X.rows, blocks * (nf + 1), 0.0);
    for (std::size_t i = 0; i < X.rows; ++i) {
      const auto x = X.row(i);
      for (std::size_t b = 0; b < blocks; ++b) c(i, b * (nf + 1) + nf) = margin_[b];
      for (std::size_t n = 0; !shape_.is_leaf(n);) {
        const auto next = static_cast<std::size_t>(shape_.child(n, x));
        const auto j = static_cast<std::size_t>(shape_.var[n]);
        for (std::size_t b = 0; b < blocks; ++b)
          c(i, b * (nf + 1) + j) += margin_[next * blocks + b] - margin_[n * blocks + b];
        n = next;
      }
    }
    return c;
  }
  std::optional<double> contributions_cost() const override {
    if (!explainable_) return std::nullopt;
    return kRowSeconds + kNodeSeconds * static_cast<double>(margins()) * (shape_.depth() + 1);
  }
  std::vector<double> feature_importance(std::size_t n_features) const override {
    return importance_or_zeros(importance_, n_features);
  }
  void save(const std::filesystem::path& dir) const override {
    std::filesystem::create_directories(dir);
    tree_->save((dir / "opencv_tree.yaml").string());
    if (!explainable_) return;
    json j = {{"format", kStatsFormat},    {"version", 1},
              {"n_features", n_features_}, {"smoothing", kSmoothing},
              {"split_var", shape_.var},   {"weight", weight_},
              {"importance", importance_}};
    if (classes_ > 2) {
      j["classes"] = classes_;
      j["class_weight"] = class_weight_;  // node-major, K per node
    } else {
      std::vector<double> positive(shape_.size());
      for (std::size_t n = 0; n < shape_.size(); ++n) positive[n] = class_weight_[n * 2 + 1];
      j["positive_weight"] = positive;
    }
    write_json(dir / kStatsFile, j);
  }
  void load(const std::filesystem::path& dir) override {
    tree_ = load_opencv_model<cv::ml::DTrees>(dir / "opencv_tree.yaml", "tree");
    explainable_ = false;
    const auto sf = dir / kStatsFile;
    try {
      const json j = read_explain_json(sf, kStatsFormat);
      if (j.is_null()) {
        if (classes_ > 2) throw DataError(sf.string() + ": missing (a model of several classes needs it)");
        return;
      }
      FlatTree shape = flatten(*tree_);
      check_shape(j, shape, sf);
      const auto nf = j.at("n_features").get<std::size_t>();
      if (j.at("smoothing").get<double>() != kSmoothing ||
          static_cast<std::size_t>(shape.max_var() + 1) > nf ||
          j.value("classes", 2) != std::max(2, classes_))
        throw DataError(sf.string() + ": explanation data does not match the model");
      auto weight = doubles(j, "weight", shape.size(), sf);
      std::vector<double> class_weight;
      if (classes_ > 2) {
        class_weight = doubles(j, "class_weight", shape.size() * static_cast<std::size_t>(classes_), sf);
      } else {
        const auto positive = doubles(j, "positive_weight", shape.size(), sf);
        for (std::size_t n = 0; n < shape.size(); ++n)
          class_weight.insert(class_weight.end(), {weight[n] - positive[n], positive[n]});
      }
      importance_ = doubles(j, "importance", nf, sf);
      set_stats(std::move(shape), std::move(weight), std::move(class_weight), nf);
    } catch (const json::exception& e) {
      throw DataError(sf.string() + ": malformed explanation data (" + e.what() + ")");
    }
  }

 private:
  static constexpr double kSmoothing = 1.0;  // Laplace: (w_k + 1) / (w + K)
  static constexpr const char* kStatsFile = "opencv_tree_explain.json";
  static constexpr const char* kStatsFormat = "netsentry-opencv-tree-stats";

  std::size_t width() const { return static_cast<std::size_t>(std::max(2, classes_)); }  // shares per node
  std::size_t margins() const { return classes_ > 2 ? width() : 1; }                     // margins per node

  // Passes the training rows down the tree: per node, their total weight and each class's weight.
  void fit_node_stats(const Matrix& X, const Labels& y, const std::vector<float>* sw) {
    FlatTree shape = flatten(*tree_);
    const auto w = unit_weights(X.rows, sw);
    const std::size_t k = width();
    std::vector<double> weight(shape.size(), 0.0), class_weight(shape.size() * k, 0.0);
    for (std::size_t i = 0; i < X.rows; ++i) {
      const auto leaf = shape.leaf(X.row(i));
      weight[leaf] += w[i];
      if (y[i] >= 0 && static_cast<std::size_t>(y[i]) < k)
        class_weight[leaf * k + static_cast<std::size_t>(y[i])] += w[i];
    }
    sum_up(shape, weight);
    sum_up(shape, class_weight, k);
    set_stats(std::move(shape), std::move(weight), std::move(class_weight), X.cols);
    importance_ = mean_abs(*contributions(X), X.cols);
  }
  void set_stats(FlatTree shape, std::vector<double> weight, std::vector<double> class_weight,
                 std::size_t nf) {
    shape_ = std::move(shape);
    weight_ = std::move(weight);
    class_weight_ = std::move(class_weight);
    n_features_ = nf;
    const std::size_t k = width(), b = margins();
    share_.resize(shape_.size() * k);
    margin_.resize(shape_.size() * b);
    for (std::size_t n = 0; n < shape_.size(); ++n) {
      for (std::size_t c = 0; c < k; ++c)
        share_[n * k + c] =
            (class_weight_[n * k + c] + kSmoothing) / (weight_[n] + static_cast<double>(k) * kSmoothing);
      if (b == 1)
        margin_[n] = clamped_logit(share_[n * k + 1]);
      else
        for (std::size_t c = 0; c < k; ++c) margin_[n * k + c] = log_share(share_[n * k + c]);
    }
    explainable_ = true;
  }

  json params_;
  cv::Ptr<cv::ml::DTrees> tree_;
  bool explainable_ = false;
  std::size_t n_features_ = 0;
  FlatTree shape_;
  std::vector<double> weight_, class_weight_, share_, margin_, importance_;
};

// ---------------------------------------------------------------- AdaBoost (SAMME)
// OpenCV's own Boost has no learning rate (shrinkage), which the reference search space varies, so
// the reweighting loop (SAMME, as scikit-learn's AdaBoostClassifier, two or K classes) is written
// here around OpenCV decision trees as the weak learners: regression trees on the ±1 target for two
// classes, classification trees for K > 2.
class AdaBoost final : public Classifier {
 public:
  explicit AdaBoost(const json& p)
      : params_(
            merge_params("adaboost", {{"n_estimators", 50}, {"learning_rate", 1.0}, {"max_depth", 1}}, p)) {}
  std::string family() const override { return "adaboost"; }
  json params() const override { return params_; }

  // SAMME: a learner with weighted error e gets alpha = learning_rate * (log((1 - e) / e) + log(K - 1)),
  // and the rows it misclassified have their weights multiplied by exp(alpha). Training stops at a
  // perfect learner (kept, alpha 1) or one no better than chance (e >= 1 - 1/K; kept only if first).
  void fit(const Matrix& X, const Labels& y, const std::vector<float>* sw) override {
    const int n_est = params_["n_estimators"].get<int>();
    const double lr = params_["learning_rate"].get<double>();
    const int n = static_cast<int>(y.size());
    const double k = std::max(2, classes_);
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
    std::vector<char> wrong(static_cast<std::size_t>(n));
    for (int m = 0; m < n_est; ++m) {
      cv::Mat wm(n, 1, CV_32F);
      for (int i = 0; i < n; ++i) wm.at<float>(i) = static_cast<float>(w[static_cast<std::size_t>(i)] * n);
      auto tree = make_tree(params_["max_depth"].get<int>(), 2);
      tree->train(classes_ > 2 ? class_data(Xm, y, wm) : regression_data(Xm, target, wm));
      tree->predict(Xm, pred);
      double err = 0;
      for (int i = 0; i < n; ++i) {
        const auto u = static_cast<std::size_t>(i);
        wrong[u] = vote(pred.at<float>(i)) != (classes_ > 2 ? y[u] : y[u] == 1 ? 1 : -1);
        if (wrong[u]) err += w[u];
      }
      if (err <= 0) {  // a perfect weak learner: keep it with a large weight and stop, as scikit-learn
        trees_.push_back(tree);
        alphas_.push_back(1.0);
        break;
      }
      if (err >= 1.0 - 1.0 / k) {
        if (trees_.empty()) {  // no better than chance: keep it so the model can predict at all
          trees_.push_back(tree);
          alphas_.push_back(1.0);
        }
        break;
      }
      const double alpha = lr * (std::log((1 - err) / err) + std::log(k - 1));
      double total = 0;
      for (int i = 0; i < n; ++i) {
        auto& wi = w[static_cast<std::size_t>(i)];
        if (wrong[static_cast<std::size_t>(i)]) wi *= std::exp(alpha);
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

  // Two classes: predict_proba is sigmoid(scale * F) with F = sum_t alpha_t * vote_t(x), vote = ±1,
  // and scale = 2 / sum_t alpha_t, so the log-odds are scale * F. K > 2: class k's margin is
  // scale * F_k with F_k = sum_t alpha_t * code_tk(x), code 1 for the class the learner votes for and
  // -1/(K-1) for the others, scale = 1 / (K - 1), and the probabilities are their softmax: the
  // minimiser of SAMME's multi-class exponential loss (Zhu et al. 2009, p_k ∝ exp(F_k / (K - 1))).
  // scikit-learn also divides by sum_t alpha_t, which squeezes every row's probabilities towards 1/K:
  // with four attack classes against one benign, P(threat) then passes 0.5 for every row and the
  // verdict rule (P(threat) >= threshold) calls everything a threat. Each term is split as alpha_t * E_t +
  // alpha_t * (vote_t(x) - E_t), E_t its mean vote (code) over the training rows: the first parts make the
  // bias, the second is attributed along the tree's decision path (Saabas: each split gets the change in the
  // mean vote of the training rows from the node to the child taken). A stump's whole deviation goes to its
  // one split feature; a feature no tree splits on gets 0.
  std::optional<Matrix> contributions(const Matrix& X) const override {
    check_fitted(!trees_.empty(), family());
    if (!explainable_) return std::nullopt;
    check_columns(X, n_features_, family());
    const std::size_t b = margins(), nf = n_features_;
    const double scale = b == 1 ? 2.0 / std::max(total_alpha(), 1e-12) : 1.0 / static_cast<double>(b - 1);
    std::vector<double> bias(b, 0.0);
    for (std::size_t t = 0; t < shapes_.size(); ++t)
      for (std::size_t c = 0; c < b; ++c) bias[c] += alphas_[t] * mean_vote_[t][c];
    Matrix out(X.rows, b * (nf + 1), 0.0);
    for (std::size_t i = 0; i < X.rows; ++i) {
      const auto x = X.row(i);
      for (std::size_t t = 0; t < shapes_.size(); ++t) {
        const auto& f = shapes_[t];
        const auto& mean = mean_vote_[t];
        const double kt = scale * alphas_[t];
        for (std::size_t n = 0; !f.is_leaf(n);) {
          const auto next = static_cast<std::size_t>(f.child(n, x));
          const auto j = static_cast<std::size_t>(f.var[n]);
          for (std::size_t c = 0; c < b; ++c)
            out(i, c * (nf + 1) + j) += kt * (mean[next * b + c] - mean[n * b + c]);
          n = next;
        }
      }
      for (std::size_t c = 0; c < b; ++c) out(i, c * (nf + 1) + nf) = scale * bias[c];
    }
    return out;
  }
  std::optional<double> contributions_cost() const override {
    if (!explainable_) return std::nullopt;
    double nodes = 0;
    for (const auto& f : shapes_) nodes += f.depth() + 1;
    return kRowSeconds + kNodeSeconds * static_cast<double>(margins()) * nodes;
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
    const char* key = classes_ > 2 ? "mean_code" : "mean_vote";  // K > 2: node-major, K per node
    json trees = json::array();
    for (std::size_t t = 0; t < shapes_.size(); ++t)
      trees.push_back({{"split_var", shapes_[t].var}, {"weight", weight_[t]}, {key, mean_vote_[t]}});
    json j = {{"format", kStatsFormat},
              {"version", 1},
              {"n_features", n_features_},
              {"trees", trees},
              {"importance", importance_}};
    if (classes_ > 2) j["classes"] = classes_;
    write_json(dir / kStatsFile, j);
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
      if (j.is_null()) {
        if (classes_ > 2) throw DataError(sf.string() + ": missing (a model of several classes needs it)");
        return;
      }
      const auto nf = j.at("n_features").get<std::size_t>();
      const json& trees = j.at("trees");
      if (!trees.is_array() || trees.size() != trees_.size() ||
          j.value("classes", 2) != std::max(2, classes_))
        throw DataError(sf.string() + ": explanation data does not match the model");
      const char* key = classes_ > 2 ? "mean_code" : "mean_vote";
      std::vector<FlatTree> shapes;
      std::vector<std::vector<double>> weight, mean;
      for (std::size_t t = 0; t < trees_.size(); ++t) {
        shapes.push_back(flatten(*trees_[t]));
        check_shape(trees[t], shapes.back(), sf);
        if (static_cast<std::size_t>(shapes.back().max_var() + 1) > nf)
          throw DataError(sf.string() + ": explanation data does not match the model");
        weight.push_back(doubles(trees[t], "weight", shapes.back().size(), sf));
        mean.push_back(doubles(trees[t], key, shapes.back().size() * margins(), sf));
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
  std::size_t margins() const { return classes_ > 2 ? static_cast<std::size_t>(classes_) : 1; }

  // A weak learner's output as its vote: two classes ±1 (the sign of the regression tree's value),
  // K > 2 the class index the classification tree answers.
  int vote(float out) const {
    if (classes_ > 2) return static_cast<int>(std::lround(out));
    return out >= 0 ? 1 : -1;
  }

  // Probabilities from the first n weak learners: two classes, P(class 1) = sigmoid of the normalised
  // weighted vote; K > 2, the softmax of the class margins (see contributions()).
  std::vector<double> staged(const Matrix& X, int n) const {
    check_fitted(!trees_.empty(), family());
    n = std::min<int>(n, static_cast<int>(trees_.size()));
    const cv::Mat Xm = to_mat(X);
    const std::size_t b = margins();
    std::vector<double> f(X.rows * b, 0.0);
    double total = 0;
    cv::Mat pred;
    const double other = b == 1 ? 0.0 : -1.0 / static_cast<double>(b - 1);
    for (int m = 0; m < n; ++m) {
      trees_[static_cast<std::size_t>(m)]->predict(Xm, pred);
      const double a = alphas_[static_cast<std::size_t>(m)];
      total += a;
      for (std::size_t i = 0; i < X.rows; ++i) {
        const int v = vote(pred.at<float>(static_cast<int>(i)));
        if (b == 1) {
          f[i] += a * v;
          continue;
        }
        for (std::size_t c = 0; c < b; ++c) f[i * b + c] += a * (static_cast<int>(c) == v ? 1.0 : other);
      }
    }
    if (b == 1) {
      for (auto& v : f) v = 1.0 / (1.0 + std::exp(-2.0 * v / std::max(total, 1e-12)));
      return f;
    }
    const double scale = 1.0 / static_cast<double>(b - 1);  // see contributions()
    for (std::size_t i = 0; i < X.rows; ++i) {
      std::span<double> row(f.data() + i * b, b);
      for (auto& v : row) v *= scale;
      softmax(row);
    }
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
  // leaf; K > 2: each class's mean code, 1 or -1/(K-1) at a leaf; a node no training row reaches
  // takes its children's plain average).
  void fit_node_stats(const Matrix& X, const std::vector<float>* sw) {
    const auto w = unit_weights(X.rows, sw);
    const std::size_t b = margins();
    const double other = b == 1 ? 0.0 : -1.0 / static_cast<double>(b - 1);
    shapes_.clear();
    weight_.clear();
    mean_vote_.clear();
    for (const auto& tree : trees_) {
      FlatTree f = flatten(*tree);
      std::vector<double> weight(f.size(), 0.0), mean(f.size() * b, 0.0);
      for (std::size_t i = 0; i < X.rows; ++i) weight[f.leaf(X.row(i))] += w[i];
      sum_up(f, weight);
      for (std::size_t n = f.size(); n-- > 0;) {
        if (f.is_leaf(n)) {  // as staged() reads OpenCV's output
          const int v = vote(static_cast<float>(f.value[n]));
          if (b == 1)
            mean[n] = v;
          else
            for (std::size_t c = 0; c < b; ++c) mean[n * b + c] = static_cast<int>(c) == v ? 1.0 : other;
          continue;
        }
        const auto l = static_cast<std::size_t>(f.left[n]), r = static_cast<std::size_t>(f.right[n]);
        for (std::size_t c = 0; c < b; ++c)
          mean[n * b + c] = weight[n] > 0
                                ? (weight[l] * mean[l * b + c] + weight[r] * mean[r * b + c]) / weight[n]
                                : 0.5 * (mean[l * b + c] + mean[r * b + c]);
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
  std::vector<std::vector<double>> weight_, mean_vote_;  // mean_vote_: K per node for K > 2
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
  // Each class's share of the k neighbours' votes (two classes: class 1's).
  std::vector<double> predict_proba(const Matrix& X) const override {
    check_fitted(!knn_.empty() && knn_->isTrained(), family());
    const int k = params_["n_neighbors"].get<int>();
    cv::Mat results, neighbours;
    knn_->findNearest(to_mat(X), k, results, neighbours);
    const std::size_t b = margins();
    std::vector<double> p(X.rows * b, 0.0);
    for (int i = 0; i < neighbours.rows; ++i) {
      const auto row = static_cast<std::size_t>(i);
      if (b == 1) {
        double s = 0;
        for (int j = 0; j < neighbours.cols; ++j) s += neighbours.at<float>(i, j);
        p[row] = s / neighbours.cols;
        continue;
      }
      for (int j = 0; j < neighbours.cols; ++j) {
        const long c = std::lround(neighbours.at<float>(i, j));
        if (c >= 0 && static_cast<std::size_t>(c) < b) p[row * b + static_cast<std::size_t>(c)] += 1.0;
      }
      for (std::size_t c = 0; c < b; ++c) p[row * b + c] /= neighbours.cols;
    }
    return p;
  }
  // A model-agnostic approximation (k-NN has no additive structure), made for each margin in turn
  // (two classes: class 1's log-odds; K > 2: each class's block, of its log share). With
  // L = clamped_logit(p) (K > 2: log_share(p_c)) and b
  // the baseline (each feature's training median): for row x and feature j,
  //   d_j = L(x) - L(x with x_j replaced by b_j),
  // the bias is L(b), and the d_j are rescaled to add up to L(x) - L(b): multiplied by
  // (L(x) - L(b)) / sum(d) when that ratio is positive, otherwise the remainder is spread in
  // proportion to |d_j|. When no single replacement changes the neighbours' vote (every d_j = 0, common
  // for rows deep inside one class), the reverse effects d_j = L(b with b_j set to x_j) - L(b) are used
  // the same way; if those are all 0 too, the difference is split evenly over the features that differ
  // from the baseline. A feature equal to its baseline always gets 0. Costs one neighbour search per
  // feature that differs from the baseline (two for the rows that need the reverse effects), per margin.
  std::optional<Matrix> contributions(const Matrix& X) const override {
    check_fitted(!knn_.empty() && knn_->isTrained(), family());
    if (baseline_.empty()) return std::nullopt;
    const std::size_t nf = baseline_.size();
    check_columns(X, nf, family());
    Matrix out(X.rows, margins() * (nf + 1), 0.0);
    for (std::size_t m = 0; m < margins(); ++m) explain_margin(X, m, out);
    return out;
  }
  // Up to two neighbour searches per feature (the removed and, for some rows, the added effects),
  // each over every training row and feature, for each margin.
  std::optional<double> contributions_cost() const override {
    if (baseline_.empty()) return std::nullopt;
    const double nf = static_cast<double>(baseline_.size());
    return kRowSeconds + kKnnSecondsPerDistance * static_cast<double>(margins()) * (2 * nf + 1) * nf *
                             static_cast<double>(training_rows());
  }
  void save(const std::filesystem::path& dir) const override {
    std::filesystem::create_directories(dir);
    knn_->save((dir / "opencv_knn.yaml").string());
    if (!baseline_.empty())
      write_json(dir / kStatsFile, {{"format", kStatsFormat}, {"version", 1}, {"baseline", baseline_}});
  }
  void load(const std::filesystem::path& dir) override {
    const auto f = dir / "opencv_knn.yaml";
    knn_ = load_opencv_model<cv::ml::KNearest>(f, "kNN");
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

  // Margin m of every row of X into its block of `c` (Knn::contributions describes the method).
  void explain_margin(const Matrix& X, std::size_t m, Matrix& c) const {
    const std::size_t nf = baseline_.size(), col = m * (nf + 1);
    Matrix base(1, nf);
    std::copy(baseline_.begin(), baseline_.end(), base.data.begin());
    const double l0 = scores(base, m)[0];
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
        c(i, col + j) = cj;
      }
      c(i, col + nf) = l0;
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
      return qs.empty() ? std::vector<double>{} : scores(Q, m);
    };
    std::vector<double> d(nf);
    for (std::size_t r0 = 0; r0 < X.rows; r0 += kBlock) {
      const std::size_t r1 = std::min(X.rows, r0 + kBlock);
      std::vector<std::size_t> rows(r1 - r0);
      std::iota(rows.begin(), rows.end(), r0);
      const auto p = scores(X.take_rows(rows), m);
      for (std::size_t i = r0; i < r1; ++i) l[i % kBlock] = p[i - r0];
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
  }
  // Margin m of each row: two classes clamped_logit(P(class 1)); K > 2 log_share(P(class m)).
  std::vector<double> scores(const Matrix& X, std::size_t m) const {
    const auto p = predict_proba(X);
    const std::size_t b = margins();
    std::vector<double> out(X.rows);
    for (std::size_t i = 0; i < X.rows; ++i) out[i] = b == 1 ? clamped_logit(p[i]) : log_share(p[i * b + m]);
    return out;
  }
  std::size_t margins() const { return classes_ > 2 ? static_cast<std::size_t>(classes_) : 1; }

  // The training rows kept in the model file (its "samples" matrix); 0 if the file has none.
  static std::size_t stored_rows(const std::filesystem::path& f) {
    cv::Mat samples;
    try {
      cv::FileStorage fs(f.string(), cv::FileStorage::READ);
      if (fs.isOpened()) fs.getFirstTopLevelNode()["samples"] >> samples;
    } catch (const cv::Exception& e) {
      throw DataError(f.string() + ": not a valid OpenCV kNN model (" + e.what() + ")");
    }
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
                          FamilyInfo{"decision_tree_gini",
                                     "CART decision tree, Gini criterion (OpenCV)",
                                     make<OpenCvTree>(),
                                     1,
                                     false,
                                     false,
                                     {{"max_depth", 1, 30}, {"min_samples_leaf", 1, 1e6}}});
NETSENTRY_REGISTER_FAMILY(adaboost, FamilyInfo{"adaboost",
                                               "AdaBoost (SAMME) over OpenCV decision stumps",
                                               make<AdaBoost>(),
                                               2,
                                               true,
                                               false,
                                               {{"n_estimators", 1, 0, true, true},
                                                {"learning_rate", 1e-4, 10, false},
                                                {"max_depth", 1, 30}}});
NETSENTRY_REGISTER_FAMILY(
    knn,
    FamilyInfo{
        "knn", "k-nearest neighbours (OpenCV)", make<Knn>(), 1, false, false, {{"n_neighbors", 1, 1000}}});

}  // namespace netsentry
