#include "netsentry/schema/schema.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"

namespace netsentry {

bool SchemaColumn::numeric() const {
  static const std::unordered_set<std::string> kNumeric = {"int",     "int8",   "int16",  "int32",
                                                           "int64",   "uint8",  "float",  "float32",
                                                           "float64", "double", "number", "bool"};
  return kNumeric.count(type) > 0;
}

Schema Schema::from_yaml_text(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw UsageError(source + ": invalid YAML: " + e.what());
  }
  if (!root.IsMap()) throw UsageError(source + ": expected a mapping with 'columns:' at the top level");
  auto cols = root["columns"];
  if (!cols || !cols.IsSequence() || cols.size() == 0)
    throw UsageError(source + ": 'columns' must be a non-empty list of 'name: type' entries");
  Schema s;
  std::unordered_set<std::string> seen;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    auto e = cols[i];
    if (!e.IsMap() || e.size() != 1)
      throw UsageError(source + ": columns[" + std::to_string(i) + "] must be a single 'name: type' entry");
    auto it = e.begin();
    SchemaColumn c{it->first.as<std::string>(), it->second.IsScalar() ? it->second.as<std::string>() : ""};
    if (c.type.empty()) throw UsageError(source + ": column '" + c.name + "' has no type");
    if (!seen.insert(c.name).second) throw UsageError(source + ": column '" + c.name + "' is listed twice");
    s.columns.push_back(c);
  }
  auto list = [&](const char* key, std::vector<std::string>& out) {
    auto n = root[key];
    if (!n) return;
    if (!n.IsSequence()) throw UsageError(source + ": '" + key + "' must be a list of column names");
    for (auto x : n) {
      auto name = x.as<std::string>();
      if (!seen.count(name))
        throw UsageError(source + ": '" + key + "' names '" + name + "', which is not in 'columns'");
      out.push_back(name);
    }
  };
  list("numerical_columns", s.numerical_columns);
  list("categorical_columns", s.categorical_columns);
  if (s.numerical_columns.empty())
    for (auto& c : s.columns)
      if (c.numeric()) s.numerical_columns.push_back(c.name);
  return s;
}

Schema Schema::load_yaml(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw UsageError(path.string() + ": schema file not found");
  return from_yaml_text(read_file(path), path.string());
}

nlohmann::json Schema::to_json() const {
  nlohmann::json cols = nlohmann::json::array();
  for (auto& c : columns) cols.push_back({{c.name, c.type}});
  return {{"columns", cols},
          {"numerical_columns", numerical_columns},
          {"categorical_columns", categorical_columns}};
}

Schema Schema::from_json(const nlohmann::json& j) {
  Schema s;
  for (auto& e : j.at("columns"))
    for (auto& [k, v] : e.items()) s.columns.push_back({k, v.get<std::string>()});
  s.numerical_columns = j.value("numerical_columns", std::vector<std::string>{});
  s.categorical_columns = j.value("categorical_columns", std::vector<std::string>{});
  return s;
}

std::vector<std::string> Schema::names() const {
  std::vector<std::string> n;
  for (auto& c : columns) n.push_back(c.name);
  return n;
}

bool Schema::has(const std::string& name) const {
  return std::any_of(columns.begin(), columns.end(), [&](auto& c) { return c.name == name; });
}

std::vector<std::string> Schema::features(const std::string& target) const {
  std::vector<std::string> f;
  for (auto& c : columns)
    if (c.name != target) f.push_back(c.name);
  return f;
}

Schema Schema::without(const std::vector<std::string>& names) const {
  auto gone = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  Schema s = *this;
  std::erase_if(s.columns, [&](const SchemaColumn& c) { return gone(c.name); });
  std::erase_if(s.numerical_columns, gone);
  std::erase_if(s.categorical_columns, gone);
  return s;
}

}  // namespace netsentry
