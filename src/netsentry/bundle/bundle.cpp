#include "netsentry/bundle/bundle.hpp"

#include <functional>

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/core/text.hpp"
#include "netsentry/model/classifier.hpp"
#include "netsentry/model/decision.hpp"
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
  } catch (const json::exception& e) {  // a syntax error, or a number beyond double's range
    throw DataError(p.string() + ": not valid JSON (" + e.what() + ")");
  }
}

// Runs `read`, which reads what `file` holds: an error that names no file of the bundle (in `dir`) is
// given the file's name, and a JSON value of the wrong type or a family or parameter the build does
// not know is a DataError too (a malformed bundle, not an internal error or a usage mistake).
template <class Fn>
void reading(const fs::path& dir, const fs::path& file, Fn&& read) {
  const auto named = [&](const std::string& what) {
    return std::string_view(what).find(dir.string()) != std::string_view::npos ? what
                                                                               : file.string() + ": " + what;
  };
  try {
    read();
  } catch (const json::exception& e) {
    throw DataError(file.string() + ": malformed (" + e.what() + ")");
  } catch (const DataError& e) {
    throw DataError(named(e.what()));
  } catch (const UsageError& e) {
    throw DataError(named(e.what()));
  }
}
}  // namespace

ModelBundle ModelBundle::load(const fs::path& dir) {
  if (!fs::is_directory(dir))
    throw DataError(dir.string() + (fs::exists(dir) ? ": not a directory (a model bundle is a directory)"
                                                    : ": model directory not found"));
  ModelBundle b;
  const fs::path meta = dir / "metadata.json", schema = dir / "schema.json", pre = dir / "preprocessor.json",
                 model = dir / "model";
  b.metadata_ = read_json(meta);
  reading(dir, meta, [&] {
    if (!b.metadata_.is_object() || b.metadata_.value("format", "") != "netsentry-bundle")
      throw DataError("not a netsentry model bundle");
    b.features_ = b.metadata_.at("features").get<std::vector<std::string>>();
    b.target_ = b.metadata_.at("target").get<std::string>();
    b.threshold_ = b.metadata_.value("threshold", 0.5);
    if (!(b.threshold_ >= 0.0 && b.threshold_ <= 1.0))
      throw DataError("'threshold' must be a probability in [0, 1], not " + std::to_string(b.threshold_));
    b.set_classes(b.metadata_);
  });
  reading(dir, schema, [&] { b.schema_ = Schema::from_json(read_json(schema)); });
  reading(dir, pre, [&] {
    b.pre_ = std::make_unique<Preprocessor>(Preprocessor::from_json(read_json(pre)));
    b.pre_->name_features(b.features_);
  });
  reading(dir, meta, [&] {
    b.model_ = create_classifier(b.metadata_.at("family").get<std::string>(), b.metadata_.at("params"),
                                 b.pre_->cardinality(), static_cast<int>(b.classes_.size()));
  });
  reading(dir, model, [&] {
    b.model_->load(model);
    // The model must answer for the bundle's classes (a model file of another class count would be
    // read past its end or half used).
    const std::size_t width = b.classes_.binary() ? 1 : b.classes_.size();
    const auto probe = b.model_->predict_proba(b.pre_->transform(Matrix(1, b.features_.size(), 0.0)));
    if (probe.size() != width)
      throw DataError("the model answers " + std::to_string(probe.size()) +
                      " probabilities per row; the bundle's " + std::to_string(b.classes_.size()) +
                      " classes need " + std::to_string(width));
  });
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

void ModelBundle::set_classes(const json& metadata) {
  if (metadata.contains("classes")) {
    classes_ = LabelSpace::from_json(metadata.at("classes"));
  } else {
    // Written before the classes were recorded: the label mapping's two classes, the threat at 0,
    // and a threshold on P(class 1), the benign class.
    std::map<std::string, int> mapping;
    const json legacy = metadata.value("label_mapping", json::object());
    if (!legacy.is_object())
      throw DataError("metadata.json: label_mapping must map target values to 0 and 1");
    for (auto& [k, v] : legacy.items()) {
      // Two classes by index: a string, a fraction or 4294967296 (0 once narrowed) is refused by name.
      if (!v.is_number_integer() || (v.get<long long>() != 0 && v.get<long long>() != 1))
        throw DataError("metadata.json: label_mapping." + k + " must be the class index 0 or 1, not " +
                        quote_value(v.dump()));
      mapping[k] = v.get<int>();
    }
    if (mapping.empty()) mapping = {{"-1", 0}, {"1", 1}};
    classes_ = LabelSpace::legacy(mapping);
    threshold_ = 1.0 - threshold_;
  }
  threat_.assign(classes_.size(), false);
  for (std::size_t k = 0; k < classes_.size(); ++k) threat_[k] = classes_.is_threat(static_cast<int>(k));
}

Matrix ModelBundle::features_from(const Table& t, UnseenCategories* unseen) const {
  return pre_->encode(t, unseen);
}

const CategoricalEncoder& ModelBundle::encoder() const { return pre_->encoder(); }

Labels ModelBundle::labels_from(const Table& t) const { return classes_.labels(t, target_); }

LabelledMetrics ModelBundle::metrics_on(const Table& t) const {
  auto enc = classes_.encode(t, target_, true);
  LabelledMetrics out;
  out.unmapped = enc.unmapped;
  out.unmapped_values = std::move(enc.unmapped_values);
  const Scored s = score(features_from(t));
  Labels y;
  std::vector<std::size_t> rows;
  for (std::size_t i = 0; i < enc.y.size(); ++i)
    if (enc.y[i] >= 0) y.push_back(enc.y[i]), rows.push_back(i);
  if (y.empty())
    throw DataError(t.source + ": no row has a known class (" + std::to_string(out.unmapped) +
                    " rows with unknown target values)");
  out.metrics =
      compute_class_metrics(y, s.class_probability.take_rows(rows), threat_, threshold_, classes_.classes());
  return out;
}

Scored ModelBundle::score(const Matrix& X) const {
  Scored s;
  s.class_probability = class_probabilities(model_->predict_proba(pre_->transform(X)), X.rows,
                                            static_cast<int>(classes_.size()));
  Decisions d = decide(s.class_probability, threat_, threshold_);
  s.label = std::move(d.cls);
  s.probability = std::move(d.p_threat);
  return s;
}

std::optional<Matrix> ModelBundle::explain(const Matrix& X, Attribution how) const {
  const Matrix Xt = pre_->transform(X);
  auto c = how == Attribution::Path ? model_->path_contributions(Xt) : model_->contributions(Xt);
  if (!c) return std::nullopt;
  Matrix out(c->rows, features_.size());  // drop the bias column
  if (classes_.binary()) {
    // Toward the log-odds of the threat: the model's class 1, or class 0 in legacy bundles.
    const double sign = threat_[1] ? 1.0 : -1.0;
    for (std::size_t i = 0; i < out.rows; ++i)
      for (std::size_t j = 0; j < out.cols; ++j) out(i, j) = sign * (*c)(i, j);
    return out;
  }
  // K classes: toward the margin of the row's verdict class (its block of the contributions).
  const Labels verdict = score(X).label;
  const std::size_t block = features_.size() + 1;
  if (c->cols != block * classes_.size())
    throw std::logic_error("explain: " + std::to_string(c->cols) + " contribution columns for " +
                           std::to_string(classes_.size()) + " classes");
  for (std::size_t i = 0; i < out.rows; ++i) {
    const std::size_t o = static_cast<std::size_t>(verdict[i]) * block;
    for (std::size_t j = 0; j < out.cols; ++j) out(i, j) = (*c)(i, o + j);
  }
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
  metadata["format_version"] = 2;  // 2: the classes are recorded ("classes")
  metadata["family"] = model->family();
  auto params = model->params();
  params.erase("nthread");
  metadata["params"] = params;
  metadata["features"] = features;
  metadata["target"] = target;
  b.threshold_ = metadata.value("threshold", 0.5);
  metadata["threshold"] = b.threshold_;
  if (!metadata.contains("classes")) {  // two classes by index, the threat at 1
    json names = json::array({"0", "1"});
    json values = json::object();
    const json mapping = metadata.value("label_mapping", json::object({{"0", 0}, {"1", 1}}));
    for (auto& [k, v] : mapping.items()) {
      names[v.get<std::size_t>()] = k;
      values[k] = v;
    }
    metadata["classes"] = {
        {"classes", names}, {"threat_classes", json::array({names[1]})}, {"values", values}};
  }
  b.set_classes(metadata);
  b.metadata_ = std::move(metadata);
  pre->name_features(features);
  b.schema_ = std::move(schema);
  b.features_ = std::move(features);
  b.target_ = std::move(target);
  b.model_ = std::move(model);
  b.pre_ = std::move(pre);
  return b;
}

}  // namespace netsentry
