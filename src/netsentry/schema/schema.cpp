#include "netsentry/schema/schema.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/core/yaml_load.hpp"

namespace netsentry {

namespace {

// A mapping key as text: a list or a mapping as a key (YAML's "? [a, b]") is a UsageError naming the
// file and line, not a conversion error from the YAML library.
std::string key_text(const YAML::Node& key, const std::string& source) {
  if (!key.IsScalar())
    throw UsageError(source + ": line " + std::to_string(key.Mark().line + 1) +
                     ": a key must be a plain name, not a list or a mapping");
  return key.Scalar();
}

const std::vector<std::string>& numeric_types() {
  static const std::vector<std::string> t = {"int",   "int8",    "int16",   "int32",  "int64",  "uint8",
                                             "float", "float32", "float64", "double", "number", "bool"};
  return t;
}
const std::vector<std::string>& text_types() {
  static const std::vector<std::string> t = {"object", "category", "string", "str", "text"};
  return t;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// A domain's keys from YAML; errors name the file, the column and the key.
ColumnDomain parse_domain(const YAML::Node& n, const std::string& column, const std::string& source) {
  const std::string where = source + ": domains." + column;
  if (!n.IsMap()) throw UsageError(where + " must be a mapping (values, min, max, missing_ratio)");
  ColumnDomain d;
  auto number = [&](const YAML::Node& v, const std::string& key) {
    if (!v.IsScalar()) throw UsageError(where + "." + key + " must be a number");
    try {
      return v.as<double>();
    } catch (const YAML::Exception&) {
      throw UsageError(where + "." + key + " must be a number (got '" + v.Scalar() + "')");
    }
  };
  for (auto kv : n) {
    const auto key = key_text(kv.first, where);
    if (key == "values") {
      if (!kv.second.IsSequence()) throw UsageError(where + ".values must be a list of the column's values");
      std::vector<std::string> values;
      for (auto v : kv.second) {
        if (!v.IsScalar()) throw UsageError(where + ".values must hold single values, not lists or maps");
        values.push_back(v.Scalar());
      }
      d.values = std::move(values);
    } else if (key == "min") {
      d.min = number(kv.second, key);
    } else if (key == "max") {
      d.max = number(kv.second, key);
    } else if (key == "missing_ratio") {
      d.missing_ratio = number(kv.second, key);
    } else {
      throw UsageError(where + ": unknown key '" + key + "' (known: values, min, max, missing_ratio)");
    }
  }
  return d;
}

}  // namespace

bool is_numeric_type(const std::string& type) { return contains(numeric_types(), type); }
bool is_text_type(const std::string& type) { return contains(text_types(), type); }

std::string known_types() {
  std::string s;
  for (auto* list : {&numeric_types(), &text_types()})
    for (auto& t : *list) s += (s.empty() ? "" : ", ") + t;
  return s;
}

bool SchemaColumn::numeric() const { return is_numeric_type(type); }
bool SchemaColumn::categorical() const { return coded || is_text_type(type); }

void Schema::complete(const std::string& source) {
  auto fail = [&](const std::string& what) { throw UsageError(source + ": " + what); };
  for (auto& c : columns)
    if (!is_numeric_type(c.type) && !is_text_type(c.type))
      fail("column '" + c.name + "' has unknown type '" + c.type + "' (known: " + known_types() + ")");
  auto check_list = [&](const char* key, const std::vector<std::string>& list) {
    std::unordered_set<std::string> seen;
    for (auto& name : list) {
      if (!has(name)) fail("'" + std::string(key) + "' names '" + name + "', which is not in 'columns'");
      if (!seen.insert(name).second) fail("'" + std::string(key) + "' lists '" + name + "' twice");
    }
  };
  check_list("numerical_columns", numerical_columns);
  check_list("categorical_columns", categorical_columns);
  for (auto& name : categorical_columns)
    if (contains(numerical_columns, name))
      fail("column '" + name + "' is listed under both numerical_columns and categorical_columns");
  for (auto& name : numerical_columns)
    if (is_text_type(column(name)->type))
      fail("column '" + name + "' is listed under numerical_columns but has the text type '" +
           column(name)->type + "'");
  for (auto& c : columns) {
    c.coded = c.numeric() && contains(categorical_columns, c.name);
    if (is_text_type(c.type) && !contains(categorical_columns, c.name)) categorical_columns.push_back(c.name);
  }
  if (numerical_columns.empty())
    for (auto& c : columns)
      if (c.numeric() && !c.categorical()) numerical_columns.push_back(c.name);

  for (auto& [name, d] : domains) {
    const SchemaColumn* c = column(name);
    const std::string where = "domains." + name;
    if (!c) fail(where + ": '" + name + "' is not in 'columns'");
    if (d.values && !c->categorical())
      fail(where + ".values: '" + name + "' is not categorical (type " + c->type +
           "); a numeric column's domain is min and max");
    if ((d.min || d.max) && (c->categorical() || !c->numeric()))
      fail(where + ": min and max are for numeric columns; '" + name + "' is categorical (type " + c->type +
           "), its domain is a values list");
    if (d.min && d.max && *d.min > *d.max) fail(where + ": min is greater than max");
    if (d.missing_ratio && !(*d.missing_ratio >= 0 && *d.missing_ratio <= 1))
      fail(where + ".missing_ratio must be in [0, 1]");
    if (d.values) {
      std::set<std::string> seen;
      for (auto& v : *d.values) {
        if (v.empty()) fail(where + ".values holds an empty value (missing values are not listed)");
        if (!seen.insert(v).second) fail(where + ".values lists '" + v + "' twice");
      }
    }
  }
}

Schema Schema::from_yaml_text(const std::string& text, const std::string& source) {
  const YAML::Node root = parse_yaml(text, source);
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
    SchemaColumn c{key_text(it->first, source), it->second.IsScalar() ? it->second.as<std::string>() : ""};
    if (c.type.empty()) throw UsageError(source + ": column '" + c.name + "' has no type");
    if (!seen.insert(c.name).second) throw UsageError(source + ": column '" + c.name + "' is listed twice");
    s.columns.push_back(c);
  }
  auto list = [&](const char* key, std::vector<std::string>& out) {
    auto n = root[key];
    if (!n || n.IsNull()) return;
    if (!n.IsSequence()) throw UsageError(source + ": '" + key + "' must be a list of column names");
    for (auto x : n) {
      if (!x.IsScalar())
        throw UsageError(source + ": '" + key + "' must list column names, not lists or mappings");
      out.push_back(x.Scalar());
    }
  };
  list("numerical_columns", s.numerical_columns);
  list("categorical_columns", s.categorical_columns);
  if (auto d = root["domains"]; d && !d.IsNull()) {
    if (!d.IsMap()) throw UsageError(source + ": 'domains' must map column names to their domains");
    for (auto kv : d) {
      const auto name = key_text(kv.first, source);
      s.domains[name] = parse_domain(kv.second, name, source);
    }
  }
  s.complete(source);
  return s;
}

Schema Schema::load_yaml(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw UsageError(path.string() + ": schema file not found");
  if (std::filesystem::is_directory(path))
    throw UsageError(path.string() + ": is a directory, expected a schema file (schema.yaml)");
  return from_yaml_text(read_file(path, yaml_max_bytes(), "NETSENTRY_MAX_YAML_BYTES"), path.string());
}

nlohmann::json Schema::to_json() const {
  nlohmann::json cols = nlohmann::json::array();
  for (auto& c : columns) cols.push_back({{c.name, c.type}});
  nlohmann::json doms = nlohmann::json::object();
  for (auto& [name, d] : domains) {
    nlohmann::json j = nlohmann::json::object();
    if (d.values) j["values"] = *d.values;
    if (d.min) j["min"] = *d.min;
    if (d.max) j["max"] = *d.max;
    if (d.missing_ratio) j["missing_ratio"] = *d.missing_ratio;
    doms[name] = std::move(j);
  }
  return {{"columns", cols},
          {"numerical_columns", numerical_columns},
          {"categorical_columns", categorical_columns},
          {"domains", doms}};
}

Schema Schema::from_json(const nlohmann::json& j) {
  Schema s;
  for (auto& e : j.at("columns"))
    for (auto& [k, v] : e.items()) s.columns.push_back({k, v.get<std::string>()});
  s.numerical_columns = j.value("numerical_columns", std::vector<std::string>{});
  s.categorical_columns = j.value("categorical_columns", std::vector<std::string>{});
  if (j.contains("domains"))
    for (auto& [name, dj] : j.at("domains").items()) {
      ColumnDomain d;
      if (dj.contains("values")) d.values = dj.at("values").get<std::vector<std::string>>();
      if (dj.contains("min")) d.min = dj.at("min").get<double>();
      if (dj.contains("max")) d.max = dj.at("max").get<double>();
      if (dj.contains("missing_ratio")) d.missing_ratio = dj.at("missing_ratio").get<double>();
      s.domains[name] = std::move(d);
    }
  s.complete("schema.json");
  return s;
}

std::vector<std::string> Schema::names() const {
  std::vector<std::string> n;
  for (auto& c : columns) n.push_back(c.name);
  return n;
}

bool Schema::has(const std::string& name) const { return column(name) != nullptr; }

const SchemaColumn* Schema::column(const std::string& name) const {
  auto it = std::find_if(columns.begin(), columns.end(), [&](auto& c) { return c.name == name; });
  return it == columns.end() ? nullptr : &*it;
}

const ColumnDomain* Schema::domain(const std::string& name) const {
  auto it = domains.find(name);
  return it == domains.end() ? nullptr : &it->second;
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
  std::erase_if(s.domains, [&](const auto& d) { return gone(d.first); });
  return s;
}

}  // namespace netsentry
