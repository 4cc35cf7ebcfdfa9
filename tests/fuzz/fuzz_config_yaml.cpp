// config/pipeline.yaml as `--config` reads it: any text gives a checked config or a UsageError
// naming the file and the key or line (never another exception, which would be exit 1).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "netsentry/config/config.hpp"
#include "netsentry/core/error.hpp"

using namespace netsentry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  try {
    const PipelineConfig c = PipelineConfig::from_yaml_text(in.rest(), "pipeline.yaml");
    (void)c.to_json().dump();
  } catch (const UsageError& e) {
    fuzz::expect_named(e, "pipeline.yaml");
  }
  return 0;
}
