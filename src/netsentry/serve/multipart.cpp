#include "netsentry/serve/multipart.hpp"

#include <algorithm>
#include <cctype>

namespace netsentry::serve {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of parameter `name` in a header value such as `form-data; name="file"; filename="x.csv"`
// (a quoted value may contain ';' and backslash-escaped characters). Sets `found`.
std::string parameter(std::string_view value, std::string_view name, bool& found) {
  found = false;
  std::size_t i = value.find(';');
  while (i != std::string_view::npos && i < value.size()) {
    ++i;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    const std::size_t eq = value.find('=', i);
    if (eq == std::string_view::npos) return {};
    const std::string_view key = trim(value.substr(i, eq - i));
    std::size_t j = eq + 1;
    std::string v;
    if (j < value.size() && value[j] == '"') {
      for (++j; j < value.size() && value[j] != '"'; ++j) {
        if (value[j] == '\\' && j + 1 < value.size()) ++j;
        v += value[j];
      }
      if (j < value.size()) ++j;  // the closing quote
      i = value.find(';', j);
    } else {
      const std::size_t end = value.find(';', j);
      v = std::string(
          trim(value.substr(j, end == std::string_view::npos ? std::string_view::npos : end - j)));
      i = end;
    }
    if (iequals(key, name)) {
      found = true;
      return v;
    }
  }
  return {};
}

}  // namespace

std::string multipart_boundary(std::string_view content_type) {
  bool found = false;
  std::string b = parameter(content_type, "boundary", found);
  if (!found || b.empty()) throw MultipartError("the multipart Content-Type has no boundary parameter");
  if (b.size() > 70) throw MultipartError("the multipart boundary is longer than 70 characters");
  return b;
}

std::vector<FormPart> parse_multipart(std::string_view body, std::string_view content_type) {
  const std::string boundary = multipart_boundary(content_type);
  const std::string delimiter = "--" + boundary;
  std::vector<FormPart> parts;
  // The first delimiter: at the start or after a preamble line.
  std::size_t pos;
  if (body.substr(0, delimiter.size()) == delimiter) {
    pos = delimiter.size();
  } else {
    const std::size_t at = body.find("\r\n" + delimiter);
    if (at == std::string_view::npos)
      throw MultipartError("the multipart body has no part (no boundary line)");
    pos = at + 2 + delimiter.size();
  }
  const std::string next_delimiter = "\r\n" + delimiter;
  for (;;) {
    // After a delimiter: "--" ends the body; otherwise a line break starts a part.
    if (body.substr(pos, 2) == "--") return parts;
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;  // transport padding
    if (body.substr(pos, 2) != "\r\n") throw MultipartError("malformed multipart boundary line");
    pos += 2;
    const std::size_t headers_end = body.find("\r\n\r\n", pos);
    const std::size_t content_end_probe = body.find(next_delimiter, pos);
    FormPart part;
    std::size_t content_begin = 0;
    {
      if (body.substr(pos, 2) == "\r\n")
        throw MultipartError("a multipart part has no Content-Disposition header");
      if (headers_end == std::string_view::npos ||
          (content_end_probe != std::string_view::npos && headers_end > content_end_probe))
        throw MultipartError("a multipart part's headers do not end with an empty line");
      bool has_disposition = false, seen_disposition = false;
      for (std::size_t line = pos; line < headers_end + 2;) {
        const std::size_t eol = body.find("\r\n", line);
        const std::string_view h = body.substr(line, eol - line);
        line = eol + 2;
        const std::size_t colon = h.find(':');
        if (colon == std::string_view::npos) throw MultipartError("malformed multipart part header");
        const std::string_view name = trim(h.substr(0, colon)), value = trim(h.substr(colon + 1));
        if (iequals(name, "Content-Disposition")) {
          if (seen_disposition) throw MultipartError("a multipart part has two Content-Disposition headers");
          seen_disposition = true;
          const std::string_view kind = trim(value.substr(0, value.find(';')));
          if (!iequals(kind, "form-data")) throw MultipartError("a multipart part is not form-data");
          bool found = false;
          part.name = parameter(value, "name", found);
          if (found && part.name.empty()) throw MultipartError("a multipart part has an empty name");
          has_disposition = found;
          part.filename = parameter(value, "filename", found);
        } else if (iequals(name, "Content-Type")) {
          part.content_type = std::string(value);
        }
      }
      if (!has_disposition) throw MultipartError("a multipart part has no Content-Disposition name");
      content_begin = headers_end + 4;
    }
    // The closing delimiter line: "\r\n--boundary" followed by "--" or (padding and) a line break;
    // the same characters followed by anything else are content.
    std::size_t content_end = body.find(next_delimiter, content_begin - 2);
    while (content_end != std::string_view::npos) {
      std::size_t after = content_end + next_delimiter.size();
      if (body.substr(after, 2) == "--") break;
      while (after < body.size() && (body[after] == ' ' || body[after] == '\t')) ++after;
      if (body.substr(after, 2) == "\r\n") break;
      content_end = body.find(next_delimiter, content_end + 1);
    }
    if (content_end == std::string_view::npos || content_end < content_begin - 2)
      throw MultipartError("the multipart body ends before its closing boundary");
    part.content = content_end < content_begin ? std::string_view()
                                               : body.substr(content_begin, content_end - content_begin);
    parts.push_back(std::move(part));
    pos = content_end + next_delimiter.size();
  }
}

}  // namespace netsentry::serve
