#pragma once
// Time values of a table's column, as numbers that order its rows: the column's numbers as they are
// (epoch seconds, sequence numbers, ...), or ISO-8601 dates and date-times as seconds since
// 1970-01-01T00:00:00Z.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netsentry/table/table.hpp"

namespace netsentry {

// "2024-05-01", "2024-05-01T13:45", "2024-05-01 13:45:07.25", "2024-05-01T13:45:07Z",
// "2024-05-01T13:45:07+02:00" (also +0200, +02; 't', 'z' in lower case; blanks around the value):
// seconds since the epoch. Without a zone the time is taken as UTC. nullopt for anything else,
// including impossible dates (2023-02-29) and times (25:00).
std::optional<double> parse_iso8601(std::string_view text);

// The column `name` of `t` as time values, one per row. A numeric column gives its numbers; a text
// column its ISO-8601 values, or its numbers when its first value is a number (one kind per column).
// DataError naming `t.source`, the row (Table::row_label) and the column for a missing or unparsable
// value, or for a missing column.
std::vector<double> time_values(const Table& t, const std::string& name);

}  // namespace netsentry
