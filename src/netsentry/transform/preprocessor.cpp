#include "netsentry/transform/preprocessor.hpp"

#include "netsentry/core/error.hpp"

namespace netsentry {

Preprocessor::Preprocessor(PreprocessorOptions opt)
    : opt_(std::move(opt)), imputer_(opt_.knn_neighbors, opt_.knn_weights) {}

void Preprocessor::fit(const Matrix& X) {
  n_features_ = X.cols;
  imputer_ = KnnImputer(opt_.knn_neighbors, opt_.knn_weights);
  imputer_.fit(X);
  scaler_.reset();
  if (opt_.robust_scaler) {
    scaler_.emplace();
    scaler_->fit(imputer_.transform(X));
  }
}

Matrix Preprocessor::transform(const Matrix& X) const {
  if (X.cols != n_features_)
    throw DataError("preprocessor expects " + std::to_string(n_features_) + " features, got " +
                    std::to_string(X.cols));
  Matrix out = imputer_.transform(X);
  if (scaler_) out = scaler_->transform(out);
  return out;
}

nlohmann::json Preprocessor::to_json() const {
  nlohmann::json j = {{"format", "netsentry-preprocessor"},
                      {"format_version", 1},
                      {"n_features", n_features_},
                      {"steps", nlohmann::json::array()}};
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
      if (name == "knn_imputer") {
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
