#include "netsentry/model/one_hot.hpp"

#include <cmath>
#include <filesystem>
#include <numeric>

#include "netsentry/core/error.hpp"

namespace netsentry {

Matrix one_hot_expand(const Matrix& X, const std::vector<int>& cardinality) {
  if (cardinality.size() != X.cols)
    throw DataError("one-hot encoding expects " + std::to_string(cardinality.size()) + " features, got " +
                    std::to_string(X.cols));
  std::size_t width = 0;
  for (int k : cardinality) width += k > 0 ? static_cast<std::size_t>(k) : 1;
  Matrix out(X.rows, width, 0.0);
  for (std::size_t i = 0; i < X.rows; ++i) {
    std::size_t o = 0;
    for (std::size_t j = 0; j < X.cols; ++j) {
      const double v = X(i, j);
      const int k = cardinality[j];
      if (k == 0) {
        out(i, o++) = v;
        continue;
      }
      if (!std::isnan(v) && v >= 0 && v < k) out(i, o + static_cast<std::size_t>(v)) = 1.0;
      o += static_cast<std::size_t>(k);
    }
  }
  return out;
}

namespace {

class OneHotClassifier final : public Classifier {
 public:
  OneHotClassifier(std::unique_ptr<Classifier> inner, std::vector<int> cardinality)
      : inner_(std::move(inner)), card_(std::move(cardinality)) {
    for (int k : card_) width_ += k > 0 ? static_cast<std::size_t>(k) : 1;
  }

  std::string family() const override { return inner_->family(); }
  nlohmann::json params() const override { return inner_->params(); }
  int nthread() const override { return inner_->nthread(); }
  void set_classes(int k) override {
    Classifier::set_classes(k);
    inner_->set_classes(k);
  }

  void fit(const Matrix& X, const Labels& y, const std::vector<float>* w) override {
    inner_->fit(expand(X), y, w);
  }
  void fit(const SharedTrainingSet& d) override {
    // The fits of one search share one expanded copy of their training set.
    auto e = std::static_pointer_cast<SharedTrainingSet>(d.prepared("one-hot", [&] {
      return std::static_pointer_cast<void>(std::make_shared<SharedTrainingSet>(expand(d.X), d.y, d.w));
    }));
    inner_->fit(*e);
  }
  std::vector<double> predict_proba(const Matrix& X) const override {
    return inner_->predict_proba(expand(X));
  }
  std::optional<std::vector<double>> predict_proba_first(const Matrix& X, int n) const override {
    return inner_->predict_proba_first(expand(X), n);
  }
  std::optional<std::vector<std::vector<double>>> predict_proba_staged(
      const Matrix& X, const std::vector<int>& ns) const override {
    return inner_->predict_proba_staged(expand(X), ns);
  }
  bool keep_first(int n) override { return inner_->keep_first(n); }

  std::optional<Matrix> contributions(const Matrix& X) const override {
    return fold(inner_->contributions(expand(X)), X.rows);
  }
  std::optional<Matrix> path_contributions(const Matrix& X) const override {
    return fold(inner_->path_contributions(expand(X)), X.rows);
  }
  std::optional<double> contributions_cost() const override { return inner_->contributions_cost(); }
  std::optional<double> path_contributions_cost() const override { return inner_->path_contributions_cost(); }

  std::vector<double> feature_importance(std::size_t n_features) const override {
    const auto wide = inner_->feature_importance(width_);
    std::vector<double> out(n_features, 0.0);
    std::size_t o = 0;
    for (std::size_t j = 0; j < card_.size() && j < n_features; ++j) {
      const std::size_t k = card_[j] > 0 ? static_cast<std::size_t>(card_[j]) : 1;
      for (std::size_t c = 0; c < k && o + c < wide.size(); ++c) out[j] += wide[o + c];
      o += k;
    }
    return out;
  }

  void save(const std::filesystem::path& dir) const override { inner_->save(dir); }
  void load(const std::filesystem::path& dir) override { inner_->load(dir); }

 private:
  Matrix expand(const Matrix& X) const { return one_hot_expand(X, card_); }

  // Wide contributions (rows x (width + 1) per class block) -> per feature (rows x (features + 1)
  // per class block), bias last.
  std::optional<Matrix> fold(std::optional<Matrix> wide, std::size_t rows) const {
    if (!wide) return std::nullopt;
    const std::size_t blocks = classes_ > 2 ? static_cast<std::size_t>(classes_) : 1;
    const std::size_t in_w = wide->cols / blocks, out_w = card_.size() + 1;
    Matrix out(rows, blocks * out_w, 0.0);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t b = 0; b < blocks; ++b) {
        std::size_t o = b * in_w;
        for (std::size_t j = 0; j < card_.size(); ++j) {
          const std::size_t k = card_[j] > 0 ? static_cast<std::size_t>(card_[j]) : 1;
          for (std::size_t c = 0; c < k; ++c) out(i, b * out_w + j) += (*wide)(i, o + c);
          o += k;
        }
        out(i, b * out_w + card_.size()) = (*wide)(i, (b + 1) * in_w - 1);
      }
    return out;
  }

  std::unique_ptr<Classifier> inner_;
  std::vector<int> card_;
  std::size_t width_ = 0;
};

}  // namespace

std::unique_ptr<Classifier> one_hot_classifier(std::unique_ptr<Classifier> inner,
                                               std::vector<int> cardinality) {
  return std::make_unique<OneHotClassifier>(std::move(inner), std::move(cardinality));
}

}  // namespace netsentry
