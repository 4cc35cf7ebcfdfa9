#include "netsentry/transform/categorical_encoder.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "netsentry/core/error.hpp"
#include "netsentry/core/text.hpp"
#include "netsentry/table/number_text.hpp"

namespace netsentry {

using json = nlohmann::json;

void UnseenCategories::add(const UnseenCategories& o) {
  for (auto& [f, n] : o.per_feature) per_feature[f] += n;
  total += o.total;
}

std::string UnseenCategories::describe() const {
  std::string s;
  for (auto& [f, n] : per_feature) s += (s.empty() ? "" : ", ") + f + ": " + std::to_string(n);
  return s;
}

void CategoricalEncoder::fit(const Table& train, const std::vector<std::string>& features,
                             const std::vector<std::string>& categorical, const CategoricalOptions& opt) {
  if (opt.max_categories < 2)
    throw UsageError("transformation.categorical.max_categories must be at least 2 (got " +
                     std::to_string(opt.max_categories) + ")");
  opt_ = opt;
  features_ = features;
  cols_.assign(features.size(), {});
  const std::set<std::string> cat(categorical.begin(), categorical.end());
  for (std::size_t j = 0; j < features.size(); ++j) {
    if (!cat.count(features[j])) continue;
    const Column& c = train.at(features[j]);
    std::map<std::string, std::size_t> count;  // sorted, as scikit-learn's categories_
    for (std::size_t i = 0; i < c.size(); ++i)
      if (auto v = c.text_at(i); !v.empty()) ++count[v];
    std::vector<std::string> names;
    std::vector<std::size_t> n;
    for (auto& [k, v] : count) names.push_back(k), n.push_back(v);
    // scikit-learn's _identify_infrequent: below min_frequency, then (when more than max_categories
    // codes would remain) all but the max_categories - 1 largest counts, by a stable ascending sort.
    std::vector<bool> infrequent(names.size());
    for (std::size_t k = 0; k < names.size(); ++k) infrequent[k] = n[k] < opt.min_frequency;
    const std::size_t frequent =
        static_cast<std::size_t>(std::count(infrequent.begin(), infrequent.end(), false));
    if (opt.max_categories < frequent + 1) {  // the codes left, "other" counted
      std::vector<std::size_t> order(names.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return n[a] < n[b]; });
      for (std::size_t k = 0; k + (opt.max_categories - 1) < order.size(); ++k) infrequent[order[k]] = true;
    }
    Col col;
    for (std::size_t k = 0; k < names.size(); ++k)
      if (!infrequent[k]) {
        col.code[names[k]] = static_cast<int>(col.categories.size());
        col.categories.push_back(names[k]);
      }
    col.other = std::find(infrequent.begin(), infrequent.end(), true) != infrequent.end();
    if (col.other) {
      const int other = static_cast<int>(col.categories.size());
      for (std::size_t k = 0; k < names.size(); ++k)
        if (infrequent[k]) col.code[names[k]] = other;
      col.categories.push_back(kOther);
    }
    if (col.categories.empty())
      throw DataError(train.source + ": categorical column '" + features[j] +
                      "' has no value in the training rows");
    cols_[j] = std::move(col);
  }
}

CategoricalEncoder CategoricalEncoder::numeric(const std::vector<std::string>& features) {
  CategoricalEncoder e;
  e.features_ = features;
  e.cols_.assign(features.size(), {});
  return e;
}

double CategoricalEncoder::code(std::size_t feature, std::string_view value) const {
  const Col& c = cols_[feature];
  auto it = c.code.find(std::string(value));
  return it == c.code.end() ? kMissing : static_cast<double>(it->second);
}

Matrix CategoricalEncoder::encode(const Table& t, UnseenCategories* unseen) const {
  Matrix X(t.rows(), features_.size());
  for (std::size_t j = 0; j < features_.size(); ++j) {
    auto idx = t.find(features_[j]);
    if (!idx) throw DataError(t.source + ": missing column '" + features_[j] + "'");
    const Column& c = t.columns[*idx];
    if (categorical(j)) {
      std::size_t n_unseen = 0;
      for (std::size_t i = 0; i < c.size(); ++i) {
        const std::string v = c.text_at(i);
        X(i, j) = v.empty() ? kMissing : code(j, v);
        n_unseen += !v.empty() && std::isnan(X(i, j));
      }
      if (unseen && n_unseen) {
        unseen->per_feature[features_[j]] += n_unseen;
        unseen->total += n_unseen;
      }
    } else if (c.type == ColumnType::Numeric) {
      for (std::size_t i = 0; i < c.num.size(); ++i) X(i, j) = c.num[i];
    } else {
      // A column read as text holds at least one cell that is not a number: the numbers are taken,
      // and the first cell that is not one is named.
      for (std::size_t i = 0; i < c.text.size(); ++i) {
        if (c.text[i].empty()) {
          X(i, j) = kMissing;
          continue;
        }
        if (auto v = parse_number(c.text[i])) {
          X(i, j) = *v;
          continue;
        }
        throw DataError(t.source + ": " + t.row_label(i) + ", column '" + features_[j] +
                        "': expected a number, got " + quote_value(c.text[i]) +
                        (cols_.empty() || !any_categorical()
                             ? std::string()
                             : std::string(" (the column is numeric in the model's schema)")));
      }
    }
  }
  return X;
}

bool CategoricalEncoder::any_categorical() const {
  return std::any_of(cols_.begin(), cols_.end(), [](const Col& c) { return !c.categories.empty(); });
}

std::vector<int> CategoricalEncoder::cardinality() const {
  std::vector<int> out(cols_.size(), 0);
  for (std::size_t j = 0; j < cols_.size(); ++j) out[j] = static_cast<int>(cols_[j].categories.size());
  return out;
}

std::string CategoricalEncoder::value_name(std::size_t feature, double code) const {
  const Col& c = cols_[feature];
  if (std::isnan(code) || code < 0 || code >= static_cast<double>(c.categories.size())) return {};
  return c.categories[static_cast<std::size_t>(code)];
}

json CategoricalEncoder::to_json() const {
  json cols = json::object();
  for (std::size_t j = 0; j < features_.size(); ++j) {
    if (!categorical(j)) continue;
    const Col& c = cols_[j];
    json infrequent = json::array();
    if (c.other) {
      std::vector<std::string> names;
      for (auto& [v, k] : c.code)
        if (k == static_cast<int>(c.categories.size()) - 1) names.push_back(v);
      std::sort(names.begin(), names.end());
      infrequent = names;
    }
    const std::vector<std::string> kept(c.categories.begin(), c.categories.end() - (c.other ? 1 : 0));
    cols[features_[j]] = {{"categories", kept}, {"infrequent", infrequent}};
  }
  return {{"features", features_},
          {"max_categories", opt_.max_categories},
          {"min_frequency", opt_.min_frequency},
          {"columns", cols}};
}

CategoricalEncoder CategoricalEncoder::from_json(const json& j) {
  CategoricalEncoder e;
  try {
    e.features_ = j.at("features").get<std::vector<std::string>>();
    e.opt_.max_categories = j.value("max_categories", e.opt_.max_categories);
    e.opt_.min_frequency = j.value("min_frequency", e.opt_.min_frequency);
    e.cols_.assign(e.features_.size(), {});
    for (auto& [name, spec] : j.at("columns").items()) {
      auto it = std::find(e.features_.begin(), e.features_.end(), name);
      if (it == e.features_.end()) throw DataError("categorical column '" + name + "' is not a feature");
      Col& c = e.cols_[static_cast<std::size_t>(it - e.features_.begin())];
      for (auto& v : spec.at("categories")) {
        c.code[v.get<std::string>()] = static_cast<int>(c.categories.size());
        c.categories.push_back(v.get<std::string>());
      }
      const auto infrequent = spec.value("infrequent", std::vector<std::string>{});
      c.other = !infrequent.empty();
      if (c.other) {
        for (auto& v : infrequent) c.code[v] = static_cast<int>(c.categories.size());
        c.categories.push_back(kOther);
      }
      if (c.categories.empty()) throw DataError("categorical column '" + name + "' has no categories");
    }
  } catch (const json::exception& ex) {
    throw DataError(std::string("malformed categorical encoder: ") + ex.what());
  }
  return e;
}

}  // namespace netsentry
