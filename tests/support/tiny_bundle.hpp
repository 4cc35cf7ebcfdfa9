#pragma once
// A small model bundle built in-process (bundle loader tests, the fuzz targets): four features (three
// numbers and the categorical "proto"), a binary target, a family fitted on 240 seeded rows with few
// trees, so that its files are small seeds and load in well under a millisecond.
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/model/classifier.hpp"
#include "netsentry/schema/schema.hpp"
#include "netsentry/table/table.hpp"
#include "netsentry/transform/preprocessor.hpp"

namespace netsentry::test {

inline const std::vector<std::string>& tiny_features() {
  static const std::vector<std::string> f = {"bytes", "count", "rate", "proto"};
  return f;
}

// The training rows: a label that follows bytes and proto, with a few missing values.
inline Table tiny_table() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const char* protos[] = {"tcp", "udp", "icmp"};
  Table t;
  t.source = "tiny";
  for (const auto& n : {"bytes", "count", "rate"}) t.columns.push_back({n, ColumnType::Numeric, {}, {}});
  t.columns.push_back({"proto", ColumnType::Text, {}, {}});
  t.columns.push_back({"label", ColumnType::Numeric, {}, {}});
  for (int i = 0; i < 240; ++i) {
    const double bytes = u(rng) * 1000, count = std::floor(u(rng) * 20), rate = u(rng);
    const int p = i % 3;
    t.columns[0].num.push_back(i % 17 == 0 ? std::nan("") : bytes);
    t.columns[1].num.push_back(count);
    t.columns[2].num.push_back(rate);
    t.columns[3].text.push_back(protos[p]);
    t.columns[4].num.push_back((bytes > 600) != (p == 2) ? 1 : 0);
  }
  return t;
}

// Small parameters for a family: few and shallow trees where it has such parameters.
inline nlohmann::json tiny_params(const std::string& family_name) {
  nlohmann::json p = nlohmann::json::object();
  for (const auto& r : family(family_name).params) {
    if (r.name == "n_estimators") p[r.name] = 3;
    if (r.name == "max_depth") p[r.name] = 3;
    if (r.name == "n_neighbors") p[r.name] = 3;
  }
  p["nthread"] = 1;
  p["seed"] = 1;
  return p;
}

// A bundle of `family_name` fitted on tiny_table().
inline ModelBundle tiny_bundle(const std::string& family_name) {
  const Table t = tiny_table();
  auto pre = std::make_unique<Preprocessor>();
  const Matrix encoded = pre->fit_encoding(t, tiny_features(), {"proto"});
  const Matrix X = pre->fit_transform(encoded);
  Labels y;
  for (double v : t.at("label").num) y.push_back(static_cast<int>(v));
  auto model = create_classifier(family_name, tiny_params(family_name), pre->cardinality(), 2);
  model->fit(X, y);
  const Schema schema = Schema::from_yaml_text(
      "columns:\n  - bytes: float64\n  - count: int64\n  - rate: float64\n  - proto: object\n  - label: "
      "int64\n"
      "numerical_columns: [bytes, count, rate, label]\n",
      "tiny schema");
  return ModelBundle::assemble(std::move(model), std::move(pre), schema, tiny_features(), "label",
                               nlohmann::json::object());
}

}  // namespace netsentry::test
