#pragma once
// multipart/form-data request bodies (RFC 7578): the parts of a body already read into memory.
//
//   auto parts = parse_multipart(body, content_type_header);   // throws MultipartError
//   for (const FormPart& p : parts) if (p.name == "file") use(p.content);
//
// Part contents are views into `body`: it must outlive the parts. Only what a form upload needs is
// read: each part's Content-Disposition (name, filename) and Content-Type; a part without a name
// is refused, as are bodies that do not end with the closing delimiter.
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace netsentry::serve {

struct MultipartError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct FormPart {
  std::string name;
  std::string filename;      // empty when the part is not a file
  std::string content_type;  // as sent, empty when absent
  std::string_view content;
};

// The boundary parameter of a multipart Content-Type header value (quoted or not); throws
// MultipartError when there is none or it is not a valid boundary (1 to 70 characters).
std::string multipart_boundary(std::string_view content_type);

// The parts of `body`, in order; throws MultipartError naming what is wrong.
std::vector<FormPart> parse_multipart(std::string_view body, std::string_view content_type);

}  // namespace netsentry::serve
