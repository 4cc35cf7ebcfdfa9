// schema.yaml (the reference project's format) as `--schema` reads it: any text gives a checked
// schema or a UsageError naming the file and what is wrong; a schema read survives its JSON form
// (what a bundle stores as schema.json) unchanged.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/schema/schema.hpp"

using namespace netsentry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  Schema s;
  try {
    s = Schema::from_yaml_text(std::string(in.rest()), "schema.yaml");
  } catch (const UsageError& e) {
    fuzz::expect_named(e, "schema.yaml");
    return 0;
  }
  Schema back;
  try {
    back = Schema::from_json(s.to_json());
  } catch (const std::exception& e) {
    fuzz::fail(std::string("a schema's own JSON does not read back: ") + e.what());
  }
  if (back.to_json() != s.to_json()) fuzz::fail("a schema changed through its JSON form");
  return 0;
}
