// multipart/form-data bodies: what browsers, curl and cpp-httplib's client send, and what must be
// refused. The bodies built by cpp-httplib's client are checked against its own parts.
#include <gtest/gtest.h>

#include <string>

#include "netsentry/serve/http.hpp"
#include "netsentry/serve/multipart.hpp"

namespace netsentry::serve {
namespace {

std::string body_of(const std::string& boundary,
                    const std::vector<std::tuple<std::string, std::string, std::string, std::string>>& parts,
                    const std::string& preamble = "") {
  std::string b = preamble;
  for (const auto& [name, filename, type, content] : parts) {
    b += "--" + boundary + "\r\n";
    b += "Content-Disposition: form-data; name=\"" + name + "\"";
    if (!filename.empty()) b += "; filename=\"" + filename + "\"";
    b += "\r\n";
    if (!type.empty()) b += "Content-Type: " + type + "\r\n";
    b += "\r\n" + content + "\r\n";
  }
  b += "--" + boundary + "--\r\n";
  return b;
}

TEST(Multipart, BoundaryFromTheContentType) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc123"), "abc123");
  EXPECT_EQ(multipart_boundary("multipart/form-data; charset=utf-8; boundary=\"a b;c\""), "a b;c");
  EXPECT_EQ(multipart_boundary("multipart/form-data;BOUNDARY=x"), "x");
  EXPECT_THROW(multipart_boundary("multipart/form-data"), MultipartError);
  EXPECT_THROW(multipart_boundary("multipart/form-data; boundary="), MultipartError);
  EXPECT_THROW(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'x')), MultipartError);
}

TEST(Multipart, PartsInOrderWithNamesFilenamesTypesAndExactContent) {
  const std::string csv = "a,b\r\n1,2\r\n3,4\n";  // line breaks inside a part are content
  const std::string body = body_of(
      "----XyZ",
      {{"file", "x.csv", "text/csv", csv}, {"note", "", "", "hello"}, {"empty", "e.txt", "text/plain", ""}},
      "a preamble line\r\n");
  const auto parts = parse_multipart(body, "multipart/form-data; boundary=----XyZ");
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].name, "file");
  EXPECT_EQ(parts[0].filename, "x.csv");
  EXPECT_EQ(parts[0].content_type, "text/csv");
  EXPECT_EQ(parts[0].content, csv);
  EXPECT_EQ(parts[1].name, "note");
  EXPECT_EQ(parts[1].filename, "");
  EXPECT_EQ(parts[1].content, "hello");
  EXPECT_EQ(parts[2].name, "empty");
  EXPECT_EQ(parts[2].content, "");
  // A boundary-like line that is not the boundary stays content.
  const std::string tricky = "x\r\n--XyZ-not\r\ny";
  const std::string tricky_body = body_of("XyZ", {{"file", "", "", tricky}});  // parts are views into it
  const auto p2 = parse_multipart(tricky_body, "multipart/form-data; boundary=XyZ");
  ASSERT_EQ(p2.size(), 1u);
  EXPECT_EQ(p2[0].content, tricky);
}

TEST(Multipart, MalformedBodiesAreRefused) {
  const std::string type = "multipart/form-data; boundary=B";
  const std::string good = body_of("B", {{"file", "x.csv", "text/csv", "a\n1\n"}});
  EXPECT_NO_THROW(parse_multipart(good, type));
  EXPECT_THROW(parse_multipart("", type), MultipartError);
  EXPECT_THROW(parse_multipart("no boundary at all", type), MultipartError);
  EXPECT_THROW(parse_multipart(good.substr(0, good.size() - 8), type), MultipartError);  // no closing line
  EXPECT_THROW(parse_multipart("--B\r\nContent-Disposition: form-data; name=\"f\"\r\n", type),
               MultipartError);  // headers never end
  EXPECT_THROW(parse_multipart("--B\r\n\r\ncontent\r\n--B--\r\n", type), MultipartError);  // no disposition
  EXPECT_THROW(parse_multipart("--B\r\nContent-Disposition: attachment; name=\"f\"\r\n\r\nx\r\n--B--", type),
               MultipartError);
  EXPECT_THROW(parse_multipart("--B\r\nno colon here\r\n\r\nx\r\n--B--", type), MultipartError);
  EXPECT_THROW(parse_multipart("--Bjunk\r\n", type), MultipartError);
  // A name that is empty, or a part with two dispositions (whose name would be the second's): both
  // found by fuzzing (tests/fuzz/fuzz_multipart.cpp).
  EXPECT_THROW(parse_multipart("--B\r\nContent-Disposition: form-data; name=\r\n\r\nx\r\n--B--", type),
               MultipartError);
  EXPECT_THROW(parse_multipart("--B\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nx\r\n--B--", type),
               MultipartError);
  EXPECT_THROW(parse_multipart("--B\r\nContent-Disposition: form-data\r\nContent-Disposition: form-data; "
                               "name=\"f\"\r\n\r\nx\r\n--B--",
                               type),
               MultipartError);
  // Every truncation of a good body is refused with a MultipartError (and never read out of bounds:
  // ASan), unless it keeps the whole closing delimiter: then it parses to the same part. Any other
  // exception fails the test.
  const std::size_t closed = good.rfind("--B--") + 5;
  ASSERT_LT(closed, good.size() + 1);
  std::size_t refused = 0;
  for (std::size_t n = 0; n < good.size(); ++n) {
    SCOPED_TRACE("truncated to " + std::to_string(n) + " of " + std::to_string(good.size()) + " bytes");
    const std::string cut = good.substr(0, n);
    if (n < closed) {
      EXPECT_THROW(parse_multipart(cut, type), MultipartError);
      ++refused;
    } else {
      const auto parts = parse_multipart(cut, type);
      ASSERT_EQ(parts.size(), 1u);
      EXPECT_EQ(parts[0].content, "a\n1\n");
    }
  }
  EXPECT_EQ(refused, closed);
}

TEST(Http, QueryComponentsAreDecoded) {
  EXPECT_EQ(http::url_decode("a%20b+c%2Bd"), "a b c+d");
  EXPECT_EQ(http::url_decode("100%"), "100%");
  EXPECT_EQ(http::url_decode("%zz%4"), "%zz%4");
  http::Request r;
  r.query = "explain=false&x=1&name=a%26b&flag";
  EXPECT_EQ(r.param("explain"), "false");
  EXPECT_EQ(r.param("name"), "a&b");
  EXPECT_EQ(r.param("flag"), "");
  EXPECT_FALSE(r.param("missing"));
  EXPECT_FALSE(r.has_header("Content-Type"));
}

}  // namespace
}  // namespace netsentry::serve
