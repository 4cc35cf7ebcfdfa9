#include "netsentry/table/table.hpp"

#include <algorithm>
#include <cmath>

#include "netsentry/core/error.hpp"

namespace netsentry {

std::size_t Column::missing_count() const {
  if (type == ColumnType::Numeric)
    return static_cast<std::size_t>(
        std::count_if(num.begin(), num.end(), [](double v) { return std::isnan(v); }));
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), std::string{}));
}

std::vector<std::string> Table::names() const {
  std::vector<std::string> n;
  n.reserve(columns.size());
  for (auto& c : columns) n.push_back(c.name);
  return n;
}

std::optional<std::size_t> Table::find(const std::string& name) const {
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (columns[i].name == name) return i;
  return std::nullopt;
}

const Column& Table::at(const std::string& name) const {
  auto i = find(name);
  if (!i) throw DataError(source + ": missing column '" + name + "'");
  return columns[*i];
}

void Table::drop(const std::string& name) {
  std::erase_if(columns, [&](const Column& c) { return c.name == name; });
}

std::string Table::row_label(std::size_t i) const {
  const std::size_t row = (origin.empty() ? i : origin[i]) + 1;
  std::string s = "data row " + std::to_string(row);
  if (lines_before) s += " (line " + std::to_string(row + *lines_before) + ")";
  return s;
}

Table Table::take_rows(const std::vector<std::size_t>& idx) const {
  Table t;
  t.source = source;
  t.lines_before = lines_before;
  t.origin.reserve(idx.size());
  for (auto i : idx) t.origin.push_back(origin.empty() ? i : origin[i]);
  t.columns.reserve(columns.size());
  for (auto& c : columns) {
    Column n{c.name, c.type, {}, {}};
    if (c.type == ColumnType::Numeric)
      n.num = take(c.num, idx);
    else
      n.text = take(c.text, idx);
    t.columns.push_back(std::move(n));
  }
  return t;
}

Matrix Table::to_matrix(const std::vector<std::string>& features) const {
  Matrix m(rows(), features.size());
  for (std::size_t j = 0; j < features.size(); ++j) {
    const Column& c = at(features[j]);
    if (c.type != ColumnType::Numeric) {
      std::size_t i = 0;
      while (i + 1 < c.text.size() && c.text[i].empty()) ++i;
      throw DataError(source + ": column '" + features[j] + "' is not numeric" +
                      (i < c.text.size() && !c.text[i].empty()
                           ? ": " + row_label(i) + " has '" + c.text[i] + "'"
                           : std::string()));
    }
    for (std::size_t i = 0; i < c.num.size(); ++i) m(i, j) = c.num[i];
  }
  return m;
}

}  // namespace netsentry
