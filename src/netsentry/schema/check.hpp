#pragma once
// Whether a table fits a schema: the checks that ingest (on the source) and validate (on the splits)
// both make.
#include <string>
#include <vector>

#include "netsentry/schema/schema.hpp"
#include "netsentry/table/table.hpp"

namespace netsentry {

// Schema checks on one table; returns problems as messages (empty = valid). Checks: column count,
// missing and unexpected columns by name, numeric columns numeric (first bad row and value named).
std::vector<std::string> check_against_schema(const Table& t, const Schema& schema);

}  // namespace netsentry
