#include "netsentry/schema/domain_check.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "netsentry/table/number_text.hpp"

namespace netsentry {

namespace {
constexpr std::size_t kExamples = 5;

void add_example(DomainFinding& f, const std::string& v) {
  if (f.examples.size() < kExamples && std::find(f.examples.begin(), f.examples.end(), v) == f.examples.end())
    f.examples.push_back(v);
}
}  // namespace

std::string DomainFinding::describe(const std::string& source) const {
  std::string m = source + ": column '" + column + "': ";
  std::string parts;
  auto add = [&](const std::string& p) { parts += (parts.empty() ? "" : "; ") + p; };
  const std::string of = " of " + std::to_string(rows) + " values ";
  if (unknown_values) add(std::to_string(unknown_values) + of + "are not in the schema's domain");
  if (below_min) add(std::to_string(below_min) + of + "are below the domain's min");
  if (above_max) add(std::to_string(above_max) + of + "are above the domain's max");
  if (!examples.empty()) {
    std::string e;
    for (auto& x : examples) e += (e.empty() ? "" : ", ") + ("'" + x + "'");
    parts += " (e.g. " + e + ")";
  }
  if (missing_above())
    add("missing ratio " + format_number(missing_ratio) + " is above the domain's " +
        format_number(*max_missing_ratio));
  return m + (parts.empty() ? "within the domain" : parts);
}

nlohmann::json DomainFinding::to_json() const {
  nlohmann::json j = {{"rows", rows},
                      {"out_of_domain", out_of_domain()},
                      {"unknown_values", unknown_values},
                      {"below_min", below_min},
                      {"above_max", above_max},
                      {"examples", examples},
                      {"missing_ratio", missing_ratio},
                      {"missing_above_domain", missing_above()}};
  if (max_missing_ratio) j["domain_missing_ratio"] = *max_missing_ratio;
  return j;
}

std::vector<DomainFinding> check_domains(const Table& t, const Schema& schema) {
  std::vector<DomainFinding> out;
  for (auto& c : t.columns) {
    const ColumnDomain* d = schema.domain(c.name);
    if (!d) continue;
    DomainFinding f;
    f.column = c.name;
    f.rows = c.size();
    f.max_missing_ratio = d->missing_ratio;
    f.missing_ratio = f.rows ? static_cast<double>(c.missing_count()) / static_cast<double>(f.rows) : 0.0;
    if (d->values) {
      const std::unordered_set<std::string> known(d->values->begin(), d->values->end());
      auto check = [&](const std::string& v) {
        if (v.empty() || known.count(v)) return;
        ++f.unknown_values;
        add_example(f, v);
      };
      if (c.type == ColumnType::Text) {
        for (auto& v : c.text) check(v);
      } else {
        for (double v : c.num)
          if (!std::isnan(v)) check(format_number(v));
      }
    }
    if (d->min || d->max) {
      auto check = [&](double v) {
        if (std::isnan(v)) return;
        if (d->min && v < *d->min) {
          ++f.below_min;
          add_example(f, format_number(v));
        } else if (d->max && v > *d->max) {
          ++f.above_max;
          add_example(f, format_number(v));
        }
      };
      if (c.type == ColumnType::Numeric) {
        for (double v : c.num) check(v);
      } else {  // not numeric text is the schema check's to report
        for (auto& v : c.text)
          if (auto x = parse_number(v)) check(*x);
      }
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace netsentry
