// The one-pass reader of numeric uploads (parse_numeric_csv) against the general reader: whenever
// the fast reader takes a file, it must give exactly the table parse_csv gives for it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_support.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/table/csv.hpp"

using namespace netsentry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const std::string_view text = in.rest();
  std::optional<Table> fast;
  try {
    fast = parse_numeric_csv(text, "fuzz.csv");
  } catch (const DataError&) {
    // The fast reader may refuse on its own only what the general reader refuses too.
    try {
      (void)parse_csv(text, "fuzz.csv");
    } catch (const DataError&) {
      return 0;
    }
    fuzz::fail("parse_numeric_csv refused a file parse_csv reads");
  }
  if (!fast) return 0;  // left to parse_csv
  Table general;
  try {
    general = parse_csv(text, "fuzz.csv");
  } catch (const std::exception& e) {
    fuzz::fail(std::string("parse_numeric_csv read a file parse_csv refuses: ") + e.what());
  }
  if (const std::string d = fuzz::table_difference(*fast, general); !d.empty())
    fuzz::fail("parse_numeric_csv and parse_csv disagree: " + d);
  return 0;
}
