#include "netsentry/transform/transformation.hpp"

#include <spdlog/spdlog.h>

#include "netsentry/core/fs.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/schema/schema.hpp"
#include "netsentry/table/csv.hpp"

#include <algorithm>

namespace netsentry {

using json = nlohmann::json;

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TransformationArtifact, preprocessor, train, test, raw_train,
                                                raw_test, features, classes)

json TransformationArtifact::to_json() const { return *this; }
TransformationArtifact TransformationArtifact::from_json(const json& j) {
  return j.get<TransformationArtifact>();
}

PreprocessorOptions preprocessor_options(const PipelineConfig& cfg) {
  return {cfg.transformation.knn_neighbors,
          cfg.transformation.knn_weights,
          cfg.transformation.scaler == "robust",
          {cfg.transformation.max_categories, cfg.transformation.min_frequency}};
}

std::vector<std::string> categorical_features(const Schema& schema,
                                              const std::vector<std::string>& features) {
  std::vector<std::string> out;
  for (auto& f : features) {
    const bool listed = std::find(schema.categorical_columns.begin(), schema.categorical_columns.end(), f) !=
                        schema.categorical_columns.end();
    const auto col =
        std::find_if(schema.columns.begin(), schema.columns.end(), [&](auto& c) { return c.name == f; });
    if (listed || (col != schema.columns.end() && !col->numeric())) out.push_back(f);
  }
  return out;
}

namespace {
Table matrix_table(const Matrix& X, const std::vector<std::string>& names, const Labels& y,
                   const std::string& target) {
  Table t;
  for (std::size_t j = 0; j < names.size(); ++j) {
    Column c{names[j], ColumnType::Numeric, std::vector<double>(X.rows), {}};
    for (std::size_t i = 0; i < X.rows; ++i) c.num[i] = X(i, j);
    t.columns.push_back(std::move(c));
  }
  Column yc{target, ColumnType::Numeric, std::vector<double>(y.begin(), y.end()), {}};
  t.columns.push_back(std::move(yc));
  return t;
}
}  // namespace

TransformationArtifact run_transformation(const PipelineConfig& cfg, const ValidationArtifact& in,
                                          const fs::path& stage_dir) {
  const SplitData raw = in.data.or_read(cfg, in.train, in.test);
  const Table &train = *raw.train, &test = *raw.test;
  TransformationArtifact a;
  a.features = raw.schema->features(cfg.data.target);
  a.raw_train = in.train;
  a.raw_test = in.test;
  auto pre_ptr = std::make_shared<Preprocessor>(preprocessor_options(cfg));
  Preprocessor& pre = *pre_ptr;
  // Category codes and the imputer are learnt from the training split only.
  const std::vector<std::string> categorical = categorical_features(*raw.schema, a.features);
  const Matrix Xtr = pre.fit_encoding(train, a.features, categorical);
  UnseenCategories unseen;
  const Matrix Xte = pre.encode(test, &unseen);
  pre.fit(Xtr);
  auto data = std::make_shared<TransformedData>();
  data->train = pre.transform(Xtr);
  data->test = pre.transform(Xte);
  data->train_labels = raw.labels->labels(train, cfg.data.target);
  data->test_labels =
      raw.labels->encode(test, cfg.data.target, true).y;  // -1: no class (counted by validation)
  a.classes = raw.labels->to_json();
  data->preprocessor = std::move(pre_ptr);
  data->raw = raw;
  const Matrix &Ttr = data->train, &Tte = data->test;
  a.preprocessor = stage_dir / "transformed_object" / "preprocessor.json";
  a.train = stage_dir / "transformed" / "train.csv";
  a.test = stage_dir / "transformed" / "test.csv";
  write_file_atomic(a.preprocessor, pre.to_json().dump());
  write_csv_atomic(a.train, matrix_table(Ttr, a.features, data->train_labels, "class"));
  write_csv_atomic(a.test, matrix_table(Tte, a.features, data->test_labels, "class"));
  write_file_atomic(stage_dir / "artifact.json", a.to_json().dump(2));
  a.data = std::move(data);
  std::size_t missing = 0;
  const auto card = pre.cardinality();
  auto count_missing = [&](const Matrix& X) {
    for (std::size_t i = 0; i < X.rows; ++i)
      for (std::size_t j = 0; j < X.cols; ++j)
        missing += std::isnan(X(i, j)) && (card.empty() || card[j] == 0);
  };
  count_missing(Xtr);
  count_missing(Xte);
  spdlog::info("transform: KNN imputer (k={}, {}) fitted on {} training rows, {} missing values imputed{}",
               cfg.transformation.knn_neighbors, cfg.transformation.knn_weights, Xtr.rows, missing,
               cfg.transformation.scaler == "robust" ? ", robust scaler" : "");
  if (!categorical.empty()) {
    std::string cats;
    for (std::size_t j = 0; j < a.features.size(); ++j)
      if (card[j] > 0)
        cats += (cats.empty() ? "" : ", ") + a.features[j] + " (" + std::to_string(card[j]) + ")";
    spdlog::info("transform: categorical features, codes fitted on the training split: {}", cats);
  }
  if (unseen.total)
    spdlog::warn(
        "transform: {} test values are categories the training split never had ({}); scored as missing",
        unseen.total, unseen.describe());
  return a;
}

}  // namespace netsentry
