#include "netsentry/transform/preprocessor.hpp"

#include "netsentry/core/error.hpp"

namespace netsentry {

Preprocessor::Preprocessor(PreprocessorOptions opt)
    : opt_(std::move(opt)), imputer_(opt_.knn_neighbors, opt_.knn_weights) {}

namespace {
Matrix columns_of(const Matrix& X, const std::vector<std::size_t>& cols) {
  Matrix out(X.rows, cols.size());
  for (std::size_t i = 0; i < X.rows; ++i)
    for (std::size_t k = 0; k < cols.size(); ++k) out(i, k) = X(i, cols[k]);
  return out;
}
void set_columns(Matrix& X, const std::vector<std::size_t>& cols, const Matrix& part) {
  for (std::size_t i = 0; i < X.rows; ++i)
    for (std::size_t k = 0; k < cols.size(); ++k) X(i, cols[k]) = part(i, k);
}
}  // namespace

Matrix Preprocessor::fit_encoding(const Table& train, const std::vector<std::string>& features,
                                  const std::vector<std::string>& categorical) {
  encoder_.fit(train, features, categorical, opt_.categorical);
  numeric_.clear();
  if (encoder_.any_categorical())
    for (std::size_t j = 0; j < features.size(); ++j)
      if (!encoder_.categorical(j)) numeric_.push_back(j);
  return encoder_.encode(train);
}

void Preprocessor::name_features(const std::vector<std::string>& features) {
  if (encoder_.features() == features) return;
  if (encoder_.any_categorical()) throw DataError("the preprocessor's features differ from the model's");
  encoder_ = CategoricalEncoder::numeric(features);
}

Matrix Preprocessor::encode(const Table& t, UnseenCategories* unseen) const {
  if (encoder_.features().empty())
    throw std::logic_error("Preprocessor::encode before its features are named");
  return encoder_.encode(t, unseen);
}

std::vector<int> Preprocessor::cardinality() const {
  return encoder_.any_categorical() ? encoder_.cardinality() : std::vector<int>{};
}

void Preprocessor::fit(const Matrix& X) {
  n_features_ = X.cols;
  const bool split = encoder_.any_categorical();
  if (split && encoder_.features().size() != X.cols)
    throw std::logic_error("Preprocessor::fit: the matrix does not have the encoder's features");
  const Matrix numeric = split ? columns_of(X, numeric_) : Matrix();
  const Matrix& Xn = split ? numeric : X;
  imputer_ = KnnImputer(opt_.knn_neighbors, opt_.knn_weights);
  imputer_.fit(Xn);
  scaler_.reset();
  if (opt_.robust_scaler) {
    scaler_.emplace();
    scaler_->fit(imputer_.transform(Xn));
  }
}

Matrix Preprocessor::transform(const Matrix& X) const {
  if (X.cols != n_features_)
    throw DataError("preprocessor expects " + std::to_string(n_features_) + " features, got " +
                    std::to_string(X.cols));
  if (encoder_.any_categorical()) {  // the numeric columns only; codes stay as they are
    Matrix part = imputer_.transform(columns_of(X, numeric_));
    if (scaler_) part = scaler_->transform(part);
    Matrix out = X;
    set_columns(out, numeric_, part);
    return out;
  }
  Matrix out = imputer_.transform(X);
  if (scaler_) out = scaler_->transform(out);
  return out;
}

nlohmann::json Preprocessor::to_json() const {
  nlohmann::json j = {{"format", "netsentry-preprocessor"},
                      {"format_version", 1},
                      {"n_features", n_features_},
                      {"steps", nlohmann::json::array()}};
  if (encoder_.any_categorical())
    j["steps"].push_back({{"name", "categorical_encoder"}, {"state", encoder_.to_json()}});
  j["steps"].push_back({{"name", "knn_imputer"}, {"state", imputer_.to_json()}});
  if (scaler_) j["steps"].push_back({{"name", "robust_scaler"}, {"state", scaler_->to_json()}});
  return j;
}

Preprocessor Preprocessor::from_json(const nlohmann::json& j) {
  try {
    if (j.value("format", "") != "netsentry-preprocessor")
      throw DataError("not a netsentry preprocessor file");
    Preprocessor p;
    p.n_features_ = j.at("n_features").get<std::size_t>();
    for (auto& step : j.at("steps")) {
      auto name = step.at("name").get<std::string>();
      if (name == "categorical_encoder") {
        p.encoder_ = CategoricalEncoder::from_json(step.at("state"));
        for (std::size_t f = 0; f < p.encoder_.features().size(); ++f)
          if (!p.encoder_.categorical(f)) p.numeric_.push_back(f);
      } else if (name == "knn_imputer") {
        p.imputer_ = KnnImputer::from_json(step.at("state"));
        p.opt_.knn_neighbors = p.imputer_.n_neighbors();
      } else if (name == "robust_scaler") {
        p.scaler_ = RobustScaler::from_json(step.at("state"));
        p.opt_.robust_scaler = true;
      } else {
        throw DataError("unknown preprocessing step '" + name + "'");
      }
    }
    return p;
  } catch (const nlohmann::json::exception& e) {
    throw DataError(std::string("malformed preprocessor: ") + e.what());
  }
}

}  // namespace netsentry
