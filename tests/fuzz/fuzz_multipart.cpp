// multipart/form-data bodies: the first line is the Content-Type header value, the rest the body.
// Any bytes either parse or fail with a MultipartError; every part's content lies inside the body.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "netsentry/serve/multipart.hpp"

using namespace netsentry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const std::string content_type(in.line());
  const std::string body(in.rest());  // its own allocation, so ASan sees any read past its end
  try {
    const auto parts = serve::parse_multipart(body, content_type);
    for (const auto& p : parts) {
      if (p.name.empty()) fuzz::fail("a part without a name was accepted");
      if (!p.content.empty() &&
          (p.content.data() < body.data() || p.content.data() + p.content.size() > body.data() + body.size()))
        fuzz::fail("a part's content lies outside the body");
    }
  } catch (const serve::MultipartError&) {
  }
  return 0;
}
