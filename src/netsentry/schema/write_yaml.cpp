#include "netsentry/schema/write_yaml.hpp"

#include <yaml-cpp/yaml.h>

#include "netsentry/table/number_text.hpp"

namespace netsentry {

namespace {

std::string number(double v) { return format_number(v == 0 ? 0.0 : v); }

// Text as the emitter chooses to write it (plain when that reads back as the same text, quoted
// otherwise), and quoted where yaml-cpp's reader would take it for a null.
struct Text {
  const std::string& s;
};
YAML::Emitter& operator<<(YAML::Emitter& e, Text t) {
  const std::string& s = t.s;
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") e << YAML::DoubleQuoted;
  return e << s;
}

// A name list under `key` (block style, as the reference's schema.yaml; [] when empty).
void name_list(YAML::Emitter& e, const char* key, const std::vector<std::string>& names) {
  e << YAML::Key << key << YAML::Value;
  if (names.empty()) e << YAML::Flow;
  e << YAML::BeginSeq;
  for (auto& n : names) e << Text{n};
  e << YAML::EndSeq;
}

}  // namespace

// yaml-cpp's emitter writes the document (quoting, escapes, comments).
std::string to_yaml(const Schema& s, const std::string& comment,
                    const std::map<std::string, std::string>& notes) {
  YAML::Emitter e;
  e.SetIndent(2);
  if (!comment.empty()) e << YAML::Comment(comment) << YAML::Newline;
  e << YAML::BeginMap;
  e << YAML::Key << "columns" << YAML::Value << YAML::BeginSeq;
  for (auto& c : s.columns)
    e << YAML::BeginMap << YAML::Key << Text{c.name} << YAML::Value << c.type << YAML::EndMap;
  e << YAML::EndSeq;
  name_list(e, "numerical_columns", s.numerical_columns);
  name_list(e, "categorical_columns", s.categorical_columns);
  if (!s.domains.empty()) {
    e << YAML::Newline
      << YAML::Comment(
             "Beyond the reference format (as TFDV's infer_schema): each column's domain, the values a\n"
             "categorical column takes, a numeric column's range, and the largest share of missing values.");
    e << YAML::Key << "domains" << YAML::Value << YAML::BeginMap;
    for (auto& c : s.columns) {
      const ColumnDomain* d = s.domain(c.name);
      if (!d) continue;
      e << YAML::Key << Text{c.name} << YAML::Value << YAML::BeginMap;
      if (auto note = notes.find(c.name); note != notes.end()) e << YAML::Comment(note->second);
      if (d->values) {
        e << YAML::Key << "values" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (auto& v : *d->values) e << Text{v};
        e << YAML::EndSeq;
      }
      if (d->min) e << YAML::Key << "min" << YAML::Value << number(*d->min);
      if (d->max) e << YAML::Key << "max" << YAML::Value << number(*d->max);
      if (d->missing_ratio) e << YAML::Key << "missing_ratio" << YAML::Value << number(*d->missing_ratio);
      e << YAML::EndMap;
    }
    e << YAML::EndMap;
  }
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

}  // namespace netsentry
