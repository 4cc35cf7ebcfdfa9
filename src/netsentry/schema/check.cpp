#include "netsentry/schema/check.hpp"

#include <unordered_set>

#include "netsentry/core/text.hpp"
#include "netsentry/table/csv.hpp"

namespace netsentry {

std::vector<std::string> check_against_schema(const Table& t, const Schema& schema) {
  std::vector<std::string> problems;
  const std::string& src = t.source;
  if (t.cols() != schema.columns.size())
    problems.push_back(src + ": has " + std::to_string(t.cols()) + " columns, the schema expects " +
                       std::to_string(schema.columns.size()));
  for (auto& c : schema.columns)
    if (!t.find(c.name)) problems.push_back(src + ": missing column '" + c.name + "' (in the schema)");
  for (auto& c : t.columns)
    if (!schema.has(c.name))
      problems.push_back(src + ": unexpected column '" + c.name + "' (not in the schema)");
  std::unordered_set<std::string> numeric(schema.numerical_columns.begin(), schema.numerical_columns.end());
  for (auto& c : t.columns) {
    if (!numeric.count(c.name) || c.type == ColumnType::Numeric) continue;
    for (std::size_t i = 0; i < c.text.size(); ++i)
      if (!c.text[i].empty() && !parse_number(c.text[i])) {
        problems.push_back(src + ": column '" + c.name + "' must be numeric, " + t.row_label(i) + " has " +
                           quote_value(c.text[i]));
        break;
      }
  }
  return problems;
}

}  // namespace netsentry
