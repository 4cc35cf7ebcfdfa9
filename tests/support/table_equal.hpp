#pragma once
// Compares two tables cell by cell (NaN equals NaN) for GoogleTest.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "netsentry/table/table.hpp"

namespace netsentry::test {

inline ::testing::AssertionResult tables_equal(const Table& a, const Table& b) {
  if (a.names() != b.names()) return ::testing::AssertionFailure() << "column names differ";
  if (a.rows() != b.rows())
    return ::testing::AssertionFailure() << "row counts differ: " << a.rows() << " vs " << b.rows();
  for (std::size_t j = 0; j < a.cols(); ++j) {
    const Column& x = a.columns[j];
    const Column& y = b.columns[j];
    if (x.type != y.type)
      return ::testing::AssertionFailure() << "column '" << x.name << "' has different types";
    for (std::size_t i = 0; i < a.rows(); ++i) {
      bool same = x.type == ColumnType::Numeric
                      ? (x.num[i] == y.num[i] || (std::isnan(x.num[i]) && std::isnan(y.num[i])))
                      : x.text[i] == y.text[i];
      if (!same) {
        auto show = [&](const Column& c) {
          return c.type == ColumnType::Numeric ? std::to_string(c.num[i]) : "'" + c.text[i] + "'";
        };
        return ::testing::AssertionFailure()
               << "row " << i + 1 << ", column '" << x.name << "': " << show(x) << " vs " << show(y);
      }
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace netsentry::test
