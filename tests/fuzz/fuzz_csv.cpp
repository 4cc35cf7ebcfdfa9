// The general CSV reader (parse_csv): any bytes either parse or fail with a DataError or UsageError
// naming the problem, and what parses survives a round trip through the writer (to_csv) unchanged.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/table/csv.hpp"

using namespace netsentry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const std::uint8_t mode = in.byte();
  CsvOptions opt;
  static const char kDelimiters[] = {',', ';', '\t', '|'};
  opt.delimiter = kDelimiters[mode & 3];
  if (mode & 4) {  // no header row: the names come from the configuration
    opt.header = false;
    opt.names = {"a", "b", "c"};
    if (mode & 8) opt.names.push_back("d");
  }
  Table t;
  try {
    t = parse_csv(in.rest(), "fuzz.csv", opt);
  } catch (const std::runtime_error& e) {
    if (!dynamic_cast<const DataError*>(&e) && !dynamic_cast<const UsageError*>(&e)) throw;
    fuzz::expect_named(e, "fuzz.csv");
    return 0;
  }
  // The writer always writes commas and a header row.
  const std::string written = to_csv(t);
  Table back;
  try {
    back = parse_csv(written, "written.csv");
  } catch (const std::exception& e) {
    fuzz::fail(std::string("to_csv wrote a table parse_csv refuses: ") + e.what());
  }
  if (const std::string d = fuzz::table_difference(t, back); !d.empty())
    fuzz::fail("CSV round trip changed the table: " + d);
  return 0;
}
