#pragma once
// A typed columnar table: each column is numeric (double, NaN = missing) or text.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "netsentry/core/matrix.hpp"

namespace netsentry {

enum class ColumnType { Numeric, Text };

struct Column {
  std::string name;
  ColumnType type = ColumnType::Numeric;
  std::vector<double> num;        // when Numeric (NaN = missing)
  std::vector<std::string> text;  // when Text (raw values; missing = "")

  std::size_t size() const { return type == ColumnType::Numeric ? num.size() : text.size(); }
  // Cell i as text: a number as the data would spell it ("-1", "6"), "" when missing.
  std::string text_at(std::size_t i) const;
  std::size_t missing_count() const;
};

struct Table {
  std::string source;  // where the rows came from (file path, URI); used in error messages
  std::vector<Column> columns;
  // Per row, its 0-based data row in `source` when the rows are a subset or reordering of it (a
  // split); empty: row i is data row i. take_rows carries it.
  std::vector<std::size_t> origin;
  // Lines before the first data row when `source` is a text file with one row a line (1: a CSV header
  // row); unset for other sources. Messages then give the line too.
  std::optional<std::size_t> lines_before;

  std::size_t rows() const { return columns.empty() ? 0 : columns.front().size(); }
  std::size_t cols() const { return columns.size(); }
  std::vector<std::string> names() const;
  std::optional<std::size_t> find(const std::string& name) const;
  const Column& at(const std::string& name) const;  // throws DataError when absent
  void drop(const std::string& name);               // no-op when absent
  // Row i as the user knows it, for messages: "data row N (line M)" in `source`'s numbering.
  std::string row_label(std::size_t i) const;

  // Rows at the given indices, in that order.
  Table take_rows(const std::vector<std::size_t>& idx) const;

  // Numeric columns `features`, in that order, as a row-major matrix.
  Matrix to_matrix(const std::vector<std::string>& features) const;
  // The same for comparing rows: text columns as codes (equal text, equal code; missing = NaN).
  Matrix to_key_matrix(const std::vector<std::string>& features) const;
};

// The rows of `a` followed by those of `b` (b must have a's columns, of the same types).
Table concat_rows(const Table& a, const Table& b);

}  // namespace netsentry
