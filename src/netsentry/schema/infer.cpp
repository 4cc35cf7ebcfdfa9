#include "netsentry/schema/infer.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "netsentry/core/error.hpp"

namespace netsentry {

namespace {

bool all_integral(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) {
    return std::isnan(x) || (std::floor(x) == x && std::fabs(x) < 9007199254740992.0);  // 2^53
  });
}

}  // namespace

InferredSchema infer_schema(const Table& t, const InferOptions& options) {
  if (t.cols() == 0) throw DataError(t.source + ": no columns");
  if (t.rows() == 0) throw DataError(t.source + ": no data rows (header only)");
  if (!options.target.empty() && !t.find(options.target)) {
    std::string names;
    for (auto& c : t.columns) names += (names.empty() ? "" : ", ") + c.name;
    throw UsageError("target column '" + options.target + "' is not in " + t.source + " (columns: " + names +
                     ")");
  }
  InferredSchema r;
  Schema& s = r.schema;
  const double rows = static_cast<double>(t.rows());
  for (auto& c : t.columns) {
    ColumnDomain d;
    d.missing_ratio = static_cast<double>(c.missing_count()) / rows;
    if (c.type == ColumnType::Numeric) {
      const bool integral = all_integral(c.num);
      const bool any = c.missing_count() < c.num.size();
      s.columns.push_back({c.name, integral && any ? "int64" : "float64"});
      s.numerical_columns.push_back(c.name);
      if (any) {
        double lo = INFINITY, hi = -INFINITY;
        for (double v : c.num)
          if (!std::isnan(v)) {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
          }
        d.min = lo == 0 ? 0.0 : lo;  // -0 as 0
        d.max = hi == 0 ? 0.0 : hi;
      }
    } else {
      s.columns.push_back({c.name, "object"});
      s.categorical_columns.push_back(c.name);
      std::set<std::string> values;
      for (auto& v : c.text)
        if (!v.empty()) values.insert(v);
      if (values.size() <= options.max_values)
        d.values = std::vector<std::string>(values.begin(), values.end());
      else
        r.notes[c.name] = std::to_string(values.size()) + " distinct values, over the cap of " +
                          std::to_string(options.max_values) + ": no values list";
    }
    s.domains[c.name] = std::move(d);
  }
  return r;
}

}  // namespace netsentry
