#pragma once
// The data schema, in the reference project's schema.yaml format:
//   columns:            - list of single-entry maps  `- name: type` (int64, float64, object, ...)
//   numerical_columns:  - list of names
//   categorical_columns (optional) - list of names
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace netsentry {

struct SchemaColumn {
  std::string name;
  std::string type;  // as written in the file: int64, float64, object, ...
  bool numeric() const;
};

struct Schema {
  std::vector<SchemaColumn> columns;
  std::vector<std::string> numerical_columns;
  std::vector<std::string> categorical_columns;

  static Schema load_yaml(const std::filesystem::path& path);  // throws UsageError naming the field
  static Schema from_yaml_text(const std::string& text, const std::string& source);
  nlohmann::json to_json() const;
  static Schema from_json(const nlohmann::json& j);

  std::vector<std::string> names() const;
  bool has(const std::string& name) const;
  // Every column but the target, in schema order.
  std::vector<std::string> features(const std::string& target) const;
  // This schema without the columns `names` (those it does not list are ignored).
  Schema without(const std::vector<std::string>& names) const;
};

}  // namespace netsentry
