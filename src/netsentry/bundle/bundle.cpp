#include "netsentry/bundle/bundle.hpp"

#include <functional>

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/model/classifier.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/table/csv.hpp"
#include "netsentry/transform/preprocessor.hpp"

namespace netsentry {

using json = nlohmann::json;

ModelBundle::ModelBundle() = default;
ModelBundle::~ModelBundle() = default;
ModelBundle::ModelBundle(ModelBundle&&) noexcept = default;
ModelBundle& ModelBundle::operator=(ModelBundle&&) noexcept = default;

namespace {
json read_json(const fs::path& p) {
  if (!fs::exists(p)) throw DataError(p.string() + ": missing from the model bundle");
  try {
    return json::parse(read_file(p));
  } catch (const json::parse_error& e) {
    throw DataError(p.string() + ": not valid JSON (" + e.what() + ")");
  }
}
}  // namespace

ModelBundle ModelBundle::load(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw DataError(dir.string() + ": model directory not found");
  ModelBundle b;
  b.metadata_ = read_json(dir / "metadata.json");
  try {
    if (b.metadata_.value("format", "") != "netsentry-bundle")
      throw DataError((dir / "metadata.json").string() + ": not a netsentry model bundle");
    b.schema_ = Schema::from_json(read_json(dir / "schema.json"));
    b.features_ = b.metadata_.at("features").get<std::vector<std::string>>();
    b.target_ = b.metadata_.at("target").get<std::string>();
    b.threshold_ = b.metadata_.value("threshold", 0.5);
    b.pre_ = std::make_unique<Preprocessor>(Preprocessor::from_json(read_json(dir / "preprocessor.json")));
    b.model_ = create_classifier(b.metadata_.at("family").get<std::string>(), b.metadata_.at("params"));
  } catch (const json::exception& e) {
    throw DataError((dir / "metadata.json").string() + ": malformed (" + e.what() + ")");
  }
  b.model_->load(dir / "model");
  return b;
}

namespace {
// Fills a temp dir next to `dest` with `fill`, then publishes it as `dest` (atomic swap); the temp
// dir is removed when anything fails.
void publish_filled(const fs::path& dest, const std::function<void(const fs::path& tmp)>& fill) {
  fs::path parent = dest.has_parent_path() ? dest.parent_path() : fs::path(".");
  fs::create_directories(parent);
  fs::path tmp = parent / (dest.filename().string() + ".tmp." + std::to_string(::getpid()));
  fs::remove_all(tmp);
  try {
    fill(tmp);
    publish_dir(tmp, dest);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}
}  // namespace

void ModelBundle::write_metadata(const fs::path& dir) const {
  write_file_atomic(dir / "metrics.json", metadata_.value("metrics", json::object()).dump(2));
  write_file_atomic(dir / "metadata.json", metadata_.dump(2));  // last: marks the bundle complete
}

void ModelBundle::save(const fs::path& dest) const {
  publish_filled(dest, [&](const fs::path& tmp) {
    fs::create_directories(tmp);
    model_->save(tmp / "model");
    write_file_atomic(tmp / "preprocessor.json", pre_->to_json().dump());
    write_file_atomic(tmp / "schema.json", schema_.to_json().dump(2));
    write_metadata(tmp);
  });
}

void ModelBundle::save_copy_of(const fs::path& saved_dir, const fs::path& dest) const {
  publish_filled(dest, [&](const fs::path& tmp) {
    fs::copy(saved_dir, tmp, fs::copy_options::recursive);
    fs::remove(tmp / "metadata.json");  // rewritten last: it marks the bundle complete
    write_metadata(tmp);
  });
}

std::string ModelBundle::class_value(int cls) const {
  const json mapping = metadata_.value("label_mapping", json::object());
  for (auto& [k, v] : mapping.items())
    if (v.get<int>() == cls) return k;
  return std::to_string(cls);
}

Matrix ModelBundle::features_from(const Table& t) const {
  Matrix X(t.rows(), features_.size());
  for (std::size_t j = 0; j < features_.size(); ++j) {
    auto idx = t.find(features_[j]);
    if (!idx) throw DataError(t.source + ": missing column '" + features_[j] + "'");
    const Column& c = t.columns[*idx];
    if (c.type == ColumnType::Numeric) {
      for (std::size_t i = 0; i < c.num.size(); ++i) X(i, j) = c.num[i];
    } else {
      for (std::size_t i = 0; i < c.text.size(); ++i) {
        if (c.text[i].empty()) {
          X(i, j) = kMissing;
          continue;
        }
        throw DataError(t.source + ": " + t.row_label(i) + ", column '" + features_[j] +
                        "': expected a number, got '" + c.text[i] + "'");
      }
    }
  }
  return X;
}

Labels ModelBundle::labels_from(const Table& t) const {
  std::map<std::string, int> mapping;
  const json m = metadata_.value("label_mapping", json::object());
  for (auto& [k, v] : m.items()) mapping[k] = v.get<int>();
  return map_labels(t, target_, mapping);
}

Scored ModelBundle::score(const Matrix& X) const {
  Scored s;
  s.probability = model_->predict_proba(pre_->transform(X));
  s.label.resize(s.probability.size());
  for (std::size_t i = 0; i < s.label.size(); ++i) s.label[i] = s.probability[i] >= threshold_ ? 1 : 0;
  return s;
}

std::optional<Matrix> ModelBundle::explain(const Matrix& X, Attribution how) const {
  const Matrix Xt = pre_->transform(X);
  auto c = how == Attribution::Path ? model_->path_contributions(Xt) : model_->contributions(Xt);
  if (!c) return std::nullopt;
  Matrix out(c->rows, features_.size());  // drop the bias column
  for (std::size_t i = 0; i < out.rows; ++i)
    for (std::size_t j = 0; j < out.cols; ++j) out(i, j) = (*c)(i, j);
  return out;
}

ModelBundle::ExplainChoice ModelBundle::choose_explanation(ExplainMethod method) const {
  const Matrix one(1, features_.size(), 0.0);
  // The estimated cost of explaining one row `how` (the model's cost model: its structure, never a
  // timer), or nullopt when the model cannot; one row is explained too, to check that it can.
  auto cost_of = [&](Attribution how) -> std::optional<double> {
    const auto cost =
        how == Attribution::Path ? model_->path_contributions_cost() : model_->contributions_cost();
    if (!cost) return std::nullopt;
    auto ex = explain(one, how);
    if (!ex || ex->rows != 1 || ex->cols != features_.size()) return std::nullopt;
    return cost;
  };
  ExplainChoice c;
  std::optional<double> cost;
  if (method != ExplainMethod::Path) cost = cost_of(Attribution::Shap);
  if (method == ExplainMethod::Path ||
      (method == ExplainMethod::Auto && cost && *cost > kAutoShapMaxSecondsPerRow)) {
    if (auto path = cost_of(Attribution::Path)) {
      cost = path;
      c.how = Attribution::Path;
    } else if (!cost) {  // "path" asked for, and the family has none: exact
      cost = cost_of(Attribution::Shap);
    }
  }
  c.can_explain = cost.has_value();
  c.seconds_per_row = cost.value_or(0.0);
  return c;
}

std::vector<double> ModelBundle::feature_importance() const {
  return model_->feature_importance(features_.size());
}

ModelBundle ModelBundle::assemble(std::unique_ptr<Classifier> model, std::unique_ptr<Preprocessor> pre,
                                  Schema schema, std::vector<std::string> features, std::string target,
                                  json metadata) {
  ModelBundle b;
  metadata["format"] = "netsentry-bundle";
  metadata["format_version"] = 1;
  metadata["family"] = model->family();
  auto params = model->params();
  params.erase("nthread");
  metadata["params"] = params;
  metadata["features"] = features;
  metadata["target"] = target;
  b.threshold_ = metadata.value("threshold", 0.5);
  metadata["threshold"] = b.threshold_;
  b.metadata_ = std::move(metadata);
  b.schema_ = std::move(schema);
  b.features_ = std::move(features);
  b.target_ = std::move(target);
  b.model_ = std::move(model);
  b.pre_ = std::move(pre);
  return b;
}

}  // namespace netsentry
