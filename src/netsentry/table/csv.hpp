#pragma once
// CSV reading (RFC 4180 quoting, type inference per column) and writing.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netsentry/table/table.hpp"

namespace netsentry {

struct CsvOptions {
  char delimiter = ',';
  // Field values that mean "missing" (besides the empty field).
  std::vector<std::string> missing_values = {"", "na", "NaN", "nan", "NA"};
};

// Parses CSV text. `source` names the input in error messages ("file.csv: row 12, column 'x': ...").
// Throws DataError for empty input, a missing header, duplicate column names or ragged rows.
Table parse_csv(std::string_view text, const std::string& source, const CsvOptions& opt = {});
Table read_csv(const std::filesystem::path& path, const CsvOptions& opt = {});

// Writes a table as CSV (numbers in shortest round-trip form, missing as empty fields).
std::string to_csv(const Table& t);
void write_csv_atomic(const std::filesystem::path& path, const Table& t);

// Parses a whole field as a finite number (surrounding blanks and a leading '+' allowed).
std::optional<double> parse_number(std::string_view field);

// Formats a double the shortest way that reads back exactly ("1", "-0.5", "0.30000000000000004").
std::string format_number(double v);

}  // namespace netsentry
