#pragma once
// CSV reading (RFC 4180 quoting, type inference per column) and writing.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netsentry/table/number_text.hpp"
#include "netsentry/table/table.hpp"
#include "netsentry/table/text_writer.hpp"

namespace netsentry {

struct CsvOptions {
  char delimiter = ',';
  // Field values that mean "missing" (besides the empty field).
  std::vector<std::string> missing_values = {"", "na", "NaN", "nan", "NA"};
  // false: the first line is data, and the columns are `names`, in file order.
  bool header = true;
  std::vector<std::string> names = {};
  std::string names_from = "the column names given";  // where `names` come from, for messages
  // read_csv: a larger file is refused before it is read, naming the setting (data.max_file_bytes).
  std::uintmax_t max_bytes = 8ull << 30;
};

// Parses CSV text. `source` names the input in error messages ("file.csv: row 12, column 'x': ...").
// Throws DataError for empty input, a missing header, duplicate column names or ragged rows (a row
// whose field count is not the header's, or without a header the number of names); UsageError for
// header = false without names.
Table parse_csv(std::string_view text, const std::string& source, const CsvOptions& opt = {});
Table read_csv(const std::filesystem::path& path, const CsvOptions& opt = {});

// The common upload, read in one pass without building a string per field: comma-separated, no
// quotes, every column numeric (numbers and missing tokens), a unique non-empty name per column and
// the same number of fields on every line. Gives exactly the table parse_csv gives for such text;
// nullopt for anything else, and for a file without a header row (parse_csv then decides, with its
// messages).
std::optional<Table> parse_numeric_csv(std::string_view text, const std::string& source,
                                       const CsvOptions& opt = {});

// Writes a table as CSV (numbers in shortest round-trip form, missing as empty fields).
std::string to_csv(const Table& t);
void write_csv_atomic(const std::filesystem::path& path, const Table& t);

// Appends one field as CSV holds it: quoted (quotes doubled) when it holds a comma, a quote or a
// line end, as it is otherwise.
void write_csv_field(TextWriter& out, std::string_view field);

// As write_csv_field, for a file a spreadsheet may open (downloads): a text field that starts with
// '=', '+', '-', '@', a tab or a carriage return and is not a number gets a leading "'" (OWASP's
// advice against formula injection), so "=HYPERLINK(...)" stays text; numbers such as -1 stay as
// they are, so a scored file still reads back as input.
void write_csv_download_field(TextWriter& out, std::string_view field);

}  // namespace netsentry
