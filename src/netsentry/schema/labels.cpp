#include "netsentry/schema/labels.hpp"

#include "netsentry/core/error.hpp"
#include "netsentry/table/number_text.hpp"

namespace netsentry {

Labels map_labels(const Table& t, const std::string& target, const std::map<std::string, int>& mapping) {
  const Column& c = t.at(target);
  Labels y(t.rows());
  for (std::size_t i = 0; i < y.size(); ++i) {
    const std::string v = c.type == ColumnType::Numeric ? format_number(c.num[i]) : c.text[i];
    auto it = mapping.find(v);
    if (it == mapping.end()) {
      std::string known;
      for (auto& [k, _] : mapping) known += (known.empty() ? "" : ", ") + k;
      throw DataError(
          t.source + ": " + t.row_label(i) + ", column '" + target + "': " +
          (v.empty() ? std::string("missing target value") : "value '" + v + "' is not a known class") +
          " (expected one of: " + known + ")");
    }
    y[i] = it->second;
  }
  return y;
}

}  // namespace netsentry
