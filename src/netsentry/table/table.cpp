#include "netsentry/table/table.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "netsentry/core/error.hpp"
#include "netsentry/core/text.hpp"
#include "netsentry/table/number_text.hpp"

namespace netsentry {

std::size_t Column::missing_count() const {
  if (type == ColumnType::Numeric)
    return static_cast<std::size_t>(
        std::count_if(num.begin(), num.end(), [](double v) { return std::isnan(v); }));
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), std::string{}));
}

std::string Column::text_at(std::size_t i) const {
  if (type == ColumnType::Text) return text[i];
  return std::isnan(num[i]) ? std::string() : format_number(num[i]);
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
      // The first cell that is not a number (numbers and missing values before it are fine).
      std::size_t i = 0;
      while (i < c.text.size() && (c.text[i].empty() || parse_number(c.text[i]))) ++i;
      throw DataError(
          source + ": column '" + features[j] + "' is not numeric" +
          (i < c.text.size() ? ": " + row_label(i) + " has " + quote_value(c.text[i]) : std::string()));
    }
    for (std::size_t i = 0; i < c.num.size(); ++i) m(i, j) = c.num[i];
  }
  return m;
}

Matrix Table::to_key_matrix(const std::vector<std::string>& features) const {
  Matrix m(rows(), features.size());
  for (std::size_t j = 0; j < features.size(); ++j) {
    const Column& c = at(features[j]);
    if (c.type == ColumnType::Numeric) {
      for (std::size_t i = 0; i < c.num.size(); ++i) m(i, j) = c.num[i];
      continue;
    }
    std::unordered_map<std::string_view, double> code;
    for (std::size_t i = 0; i < c.text.size(); ++i) {
      if (c.text[i].empty()) {
        m(i, j) = std::nan("");
        continue;
      }
      auto [it, fresh] = code.emplace(c.text[i], static_cast<double>(code.size()));
      m(i, j) = it->second;
    }
  }
  return m;
}

Table concat_rows(const Table& a, const Table& b) {
  Table t = a;
  for (auto& dst : t.columns) {
    const Column& src = b.at(dst.name);
    if (src.type == dst.type) {
      dst.num.insert(dst.num.end(), src.num.begin(), src.num.end());
      dst.text.insert(dst.text.end(), src.text.begin(), src.text.end());
      continue;
    }
    // A column read as numbers on one side and as text on the other: both as text.
    auto as_text = [](const Column& c) {
      std::vector<std::string> v;
      v.reserve(c.size());
      for (std::size_t i = 0; i < c.size(); ++i) v.push_back(c.text_at(i));
      return v;
    };
    std::vector<std::string> text = as_text(dst), more = as_text(src);
    text.insert(text.end(), more.begin(), more.end());
    dst.type = ColumnType::Text;
    dst.num.clear();
    dst.text = std::move(text);
  }
  return t;
}

}  // namespace netsentry
