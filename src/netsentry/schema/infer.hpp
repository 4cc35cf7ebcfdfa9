#pragma once
// A schema inferred from data (`netsentry schema infer`), as TFDV's infer_schema: each column's type
// and its domain as seen (a categorical column's values, a numeric column's range, the share of
// missing values).
#include <cstddef>
#include <map>
#include <string>

#include "netsentry/schema/schema.hpp"
#include "netsentry/table/table.hpp"

namespace netsentry {

struct InferOptions {
  // A categorical column with more distinct values than this gets no values list.
  std::size_t max_values = 1000;
  // The target column (it must be in the table); listed like any column, by its type.
  std::string target;
};

struct InferredSchema {
  Schema schema;
  // Per column, a remark for the YAML (e.g. the values list left out over the cap).
  std::map<std::string, std::string> notes;
};

// Types: a numeric column whose values are all integers is int64, another numeric column float64
// (one with no value at all too), a text column object (categorical). Throws DataError for a table
// without rows, UsageError when options.target is not a column.
InferredSchema infer_schema(const Table& t, const InferOptions& options = {});

}  // namespace netsentry
