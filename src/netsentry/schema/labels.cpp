#include "netsentry/schema/labels.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "netsentry/core/error.hpp"
#include "netsentry/core/text.hpp"
#include "netsentry/table/number_text.hpp"

namespace netsentry {

using json = nlohmann::json;

namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// Numbers in numeric order, then text in byte order.
bool class_less(const std::string& a, const std::string& b) {
  auto na = parse_number(a), nb = parse_number(b);
  if (na && nb) return *na < *nb;
  if (na || nb) return na.has_value();
  return a < b;
}

std::string missing_target(const Table& t, const std::string& target, std::size_t i) {
  return t.source + ": " + t.row_label(i) + ", column '" + target + "': missing target value";
}

}  // namespace

LabelSpace LabelSpace::derive(const LabelSpec& spec, const Table& train, const std::string& target) {
  if (!spec.mapping.empty() && !spec.groups.empty())
    throw UsageError(
        "data.label_mapping and data.label_groups cannot both be set: use label_groups to "
        "map several values to one class");
  if (!spec.positive_class.empty() && !spec.benign_classes.empty())
    throw UsageError("data.positive_class and data.benign_classes cannot both be set");
  LabelSpace s;
  std::vector<std::string> names;
  if (!spec.groups.empty()) {
    for (auto& [cls, values] : spec.groups) {
      if (values.empty()) throw UsageError("data.label_groups." + cls + " lists no target values");
      names.push_back(cls);
    }
    for (std::size_t k = 0; k < names.size(); ++k)
      for (auto& v : spec.groups.at(names[k])) {
        if (v == "*") {
          if (s.catch_all_ >= 0)
            throw UsageError("data.label_groups: '*' (every other value) is in both '" +
                             names[static_cast<std::size_t>(s.catch_all_)] + "' and '" + names[k] + "'");
          s.catch_all_ = static_cast<int>(k);
          continue;
        }
        auto [it, fresh] = s.values_.emplace(v, static_cast<int>(k));
        if (!fresh && it->second != static_cast<int>(k))
          throw UsageError("data.label_groups: value '" + v + "' is in both '" + names[it->second] +
                           "' and '" + names[k] + "'");
      }
  } else if (!spec.mapping.empty()) {
    names.resize(spec.mapping.size());
    for (auto& [value, idx] : spec.mapping) {
      if (idx < 0 || idx >= static_cast<int>(spec.mapping.size()) ||
          !names[static_cast<std::size_t>(idx)].empty())
        throw UsageError("data.label_mapping must give each of its " + std::to_string(spec.mapping.size()) +
                         " values its own class index from 0 to " + std::to_string(spec.mapping.size() - 1) +
                         " ('" + value + "': " + std::to_string(idx) +
                         "); use data.label_groups to map several values to one class");
      names[static_cast<std::size_t>(idx)] = value;
      s.values_[value] = idx;
    }
  } else {
    const Column& c = train.at(target);
    std::set<std::string> seen;
    for (std::size_t i = 0; i < c.size(); ++i) {
      std::string v = c.text_at(i);
      if (v.empty()) throw DataError(missing_target(train, target, i));
      seen.insert(std::move(v));
    }
    names.assign(seen.begin(), seen.end());
    std::sort(names.begin(), names.end(), class_less);
    for (std::size_t k = 0; k < names.size(); ++k) s.values_[names[k]] = static_cast<int>(k);
  }
  if (names.size() < 2)
    throw DataError(train.source + ": target column '" + target + "' has a single class ('" +
                    (names.empty() ? std::string() : names[0]) + "'); at least two are needed");

  auto index = [&](const std::string& cls, const char* key) {
    auto it = std::find(names.begin(), names.end(), cls);
    if (it == names.end())
      throw UsageError(std::string("data.") + key + ": '" + cls +
                       "' is not a class (classes: " + joined(names) + ")");
    return static_cast<std::size_t>(it - names.begin());
  };
  std::vector<bool> threat(names.size(), false);
  if (!spec.positive_class.empty()) {
    threat[index(spec.positive_class, "positive_class")] = true;
  } else if (!spec.benign_classes.empty()) {
    threat.assign(names.size(), true);
    for (auto& b : spec.benign_classes) threat[index(b, "benign_classes")] = false;
    if (std::none_of(threat.begin(), threat.end(), [](bool t) { return t; }))
      throw UsageError("data.benign_classes lists every class (" + joined(names) + "): no class is a threat");
  } else if (names.size() == 2) {
    threat[1] = true;  // the second class, as scikit-learn's pos_label
  } else {
    throw UsageError("the target has " + std::to_string(names.size()) + " classes (" + joined(names) +
                     "): name the threats with data.benign_classes (every other class is a threat) or "
                     "data.positive_class");
  }
  // Two classes: benign at 0, threat at 1.
  if (names.size() == 2 && threat[0]) {
    std::swap(names[0], names[1]);
    threat = {false, true};
    for (auto& [v, k] : s.values_) k = 1 - k;
    if (s.catch_all_ >= 0) s.catch_all_ = 1 - s.catch_all_;
  }
  s.classes_ = std::move(names);
  s.threat_ = std::move(threat);
  // Every value of the training rows must have a class (groups and mappings may miss some).
  (void)s.encode(train, target);
  return s;
}

std::vector<std::string> LabelSpace::threat_classes() const {
  std::vector<std::string> out;
  for (std::size_t k = 0; k < classes_.size(); ++k)
    if (threat_[k]) out.push_back(classes_[k]);
  return out;
}

std::optional<int> LabelSpace::index_of(std::string_view value) const {
  auto it = values_.find(std::string(value));
  if (it == values_.end()) return catch_all_ >= 0 ? std::optional<int>(catch_all_) : std::nullopt;
  return it->second;
}

LabelSpace::Encoded LabelSpace::encode(const Table& t, const std::string& target, bool allow_unmapped) const {
  const Column& c = t.at(target);
  Encoded e;
  e.y.resize(c.size());
  for (std::size_t i = 0; i < e.y.size(); ++i) {
    const std::string v = c.text_at(i);
    if (v.empty()) throw DataError(missing_target(t, target, i));
    if (auto k = index_of(v)) {
      e.y[i] = *k;
      continue;
    }
    if (!allow_unmapped) {
      std::vector<std::string> known;
      for (auto& [val, _] : values_) known.push_back(val);
      throw DataError(t.source + ": " + t.row_label(i) + ", column '" + target + "': value " +
                      quote_value(v) + " is not a known class (expected one of: " + joined(known) + ")");
    }
    e.y[i] = -1;
    ++e.unmapped;
    ++e.unmapped_values[v];
  }
  return e;
}

json LabelSpace::to_json() const {
  json values = json::object();
  for (auto& [v, k] : values_) values[v] = k;
  json j = {{"classes", classes_}, {"threat_classes", threat_classes()}, {"values", values}};
  if (catch_all_ >= 0) j["other_values"] = classes_[static_cast<std::size_t>(catch_all_)];
  return j;
}

LabelSpace LabelSpace::from_json(const json& j) {
  LabelSpace s;
  try {
    s.classes_ = j.at("classes").get<std::vector<std::string>>();
    const auto threats = j.at("threat_classes").get<std::vector<std::string>>();
    s.threat_.assign(s.classes_.size(), false);
    for (auto& t : threats) {
      auto it = std::find(s.classes_.begin(), s.classes_.end(), t);
      if (it == s.classes_.end()) throw DataError("threat class '" + t + "' is not one of the classes");
      s.threat_[static_cast<std::size_t>(it - s.classes_.begin())] = true;
    }
    for (auto& [v, k] : j.at("values").items()) {
      const int idx = k.get<int>();
      if (idx < 0 || idx >= static_cast<int>(s.classes_.size()))
        throw DataError("value '" + v + "' maps to class " + std::to_string(idx) + ", which does not exist");
      s.values_[v] = idx;
    }
    if (j.contains("other_values")) {
      auto it = std::find(s.classes_.begin(), s.classes_.end(), j["other_values"].get<std::string>());
      if (it == s.classes_.end()) throw DataError("other_values names no class");
      s.catch_all_ = static_cast<int>(it - s.classes_.begin());
    }
  } catch (const json::exception& e) {
    throw DataError(std::string("malformed classes: ") + e.what());
  }
  if (s.classes_.size() < 2) throw DataError("malformed classes: fewer than two");
  return s;
}

LabelSpace LabelSpace::legacy(const std::map<std::string, int>& mapping) {
  LabelSpace s;
  s.classes_.assign(2, std::string());
  for (auto& [v, k] : mapping) {
    if (k != 0 && k != 1)
      throw DataError("malformed label_mapping: '" + v + "' maps to " + std::to_string(k));
    s.classes_[static_cast<std::size_t>(k)] = v;
    s.values_[v] = k;
  }
  for (int k = 0; k < 2; ++k)
    if (s.classes_[static_cast<std::size_t>(k)].empty())
      s.classes_[static_cast<std::size_t>(k)] = std::to_string(k);
  s.threat_ = {true, false};
  return s;
}

}  // namespace netsentry
