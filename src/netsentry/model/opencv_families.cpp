// Model families backed by OpenCV's ml module (libopencv-ml): a CART decision tree with the Gini
// criterion, AdaBoost (SAMME) over OpenCV decision stumps, and k-nearest neighbours.
// Models are saved with cv::FileStorage (YAML: data only).
#include <opencv2/core.hpp>
#include <opencv2/ml.hpp>

#include <cmath>

#include "netsentry/core/error.hpp"
#include "netsentry/model/classifier.hpp"

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

// ---------------------------------------------------------------- decision tree (Gini)
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
  }
  std::vector<double> predict_proba(const Matrix& X) const override {
    check_fitted(!tree_.empty() && tree_->isTrained(), family());
    cv::Mat out;
    tree_->predict(to_mat(X), out);
    std::vector<double> p(X.rows);
    for (std::size_t i = 0; i < X.rows; ++i)
      p[i] = std::clamp<double>(out.at<float>(static_cast<int>(i)), 0.0, 1.0);
    return p;
  }
  void save(const std::filesystem::path& dir) const override {
    std::filesystem::create_directories(dir);
    tree_->save((dir / "opencv_tree.yaml").string());
  }
  void load(const std::filesystem::path& dir) override {
    auto f = dir / "opencv_tree.yaml";
    if (!std::filesystem::exists(f)) throw DataError(f.string() + ": model file missing");
    tree_ = cv::Algorithm::load<cv::ml::DTrees>(f.string());
    if (tree_.empty() || !tree_->isTrained()) throw DataError(f.string() + ": not a valid OpenCV tree model");
  }

 private:
  json params_;
  cv::Ptr<cv::ml::DTrees> tree_;
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
  }

  std::vector<double> predict_proba(const Matrix& X) const override {
    return staged(X, static_cast<int>(trees_.size()));
  }
  std::optional<std::vector<double>> predict_proba_first(const Matrix& X, int n) const override {
    return staged(X, n);
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

  json params_;
  std::vector<cv::Ptr<cv::ml::DTrees>> trees_;
  std::vector<double> alphas_;
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
  void save(const std::filesystem::path& dir) const override {
    std::filesystem::create_directories(dir);
    knn_->save((dir / "opencv_knn.yaml").string());
  }
  void load(const std::filesystem::path& dir) override {
    auto f = dir / "opencv_knn.yaml";
    if (!std::filesystem::exists(f)) throw DataError(f.string() + ": model file missing");
    knn_ = cv::Algorithm::load<cv::ml::KNearest>(f.string());
    if (knn_.empty() || !knn_->isTrained()) throw DataError(f.string() + ": not a valid OpenCV kNN model");
  }

 private:
  json params_;
  cv::Ptr<cv::ml::KNearest> knn_;
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
