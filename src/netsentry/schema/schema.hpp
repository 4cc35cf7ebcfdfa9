#pragma once
// The data schema, in the reference project's schema.yaml format:
//   columns:            - list of single-entry maps  `- name: type` (int64, float64, object, ...)
//   numerical_columns:  - list of names
//   categorical_columns (optional) - list of names
// and, beyond the reference (as TFDV's infer_schema), an optional `domains:` mapping:
//   domains:
//     protocol_type: {values: [icmp, tcp, udp], missing_ratio: 0}   # categorical columns
//     duration: {min: 0, max: 42908, missing_ratio: 0}               # numeric columns
//
// Types: int, int8, int16, int32, int64, uint8, float, float32, float64, double, number and bool hold
// numbers; object, category, string, str and text hold text, and such a column is a categorical
// feature. A column listed under `categorical_columns:` is categorical whatever its type (integer codes
// typed int64); a text column is categorical even when that list leaves it out. Any other type name is
// an error.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace netsentry {

// Whether a type name holds numbers / text; "int64, ..." for messages.
bool is_numeric_type(const std::string& type);
bool is_text_type(const std::string& type);
std::string known_types();

struct SchemaColumn {
  std::string name;
  std::string type;          // as written in the file: int64, float64, object, ...
  bool coded = false;        // a numeric type listed under categorical_columns (category codes)
  bool numeric() const;      // its values are numbers (the type is a numeric one)
  bool categorical() const;  // a categorical feature: a text type, or category codes
};

// The values a column took where the schema was inferred. Every part is optional.
struct ColumnDomain {
  std::optional<std::vector<std::string>> values;  // categorical columns: the known values
  std::optional<double> min, max;                  // numeric columns: the range
  std::optional<double> missing_ratio;             // any column: the largest share of missing values
  bool operator==(const ColumnDomain&) const = default;
};

struct Schema {
  std::vector<SchemaColumn> columns;
  std::vector<std::string> numerical_columns;
  std::vector<std::string> categorical_columns;
  std::map<std::string, ColumnDomain> domains;  // by column name

  // Both throw UsageError naming the file and the field (column, type, domain key).
  static Schema load_yaml(const std::filesystem::path& path);
  static Schema from_yaml_text(const std::string& text, const std::string& source);
  nlohmann::json to_json() const;
  // A schema.json from to_json; one written before categorical columns and domains still loads.
  static Schema from_json(const nlohmann::json& j);

  std::vector<std::string> names() const;
  bool has(const std::string& name) const;
  const SchemaColumn* column(const std::string& name) const;  // nullptr when absent
  const ColumnDomain* domain(const std::string& name) const;  // nullptr when the column has none
  // Every column but the target, in schema order.
  std::vector<std::string> features(const std::string& target) const;
  // This schema without the columns `names` (those it does not list are ignored).
  Schema without(const std::vector<std::string>& names) const;

 private:
  // Derives what the lists imply (coded columns, text columns in categorical_columns, numerical_columns
  // when absent) and checks the lists and domains against the columns; `source` names the file.
  void complete(const std::string& source);
};

}  // namespace netsentry
