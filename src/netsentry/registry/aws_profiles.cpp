#include "netsentry/registry/aws_profiles.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "netsentry/core/error.hpp"
#include "netsentry/core/text.hpp"

namespace netsentry::aws {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// Profile and property names: letters, digits and - / . % @ _ : + (what the SDKs accept).
bool valid_name(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || std::strchr("-/.%@_:+", c) != nullptr;
  });
}

bool is_comment_start(char c) { return c == '#' || c == ';'; }

// A value ends where a comment starts: '#' or ';' preceded by a blank ("v # note" -> "v ";
// "v#1" stays "v#1").
std::string_view cut_value_comment(std::string_view v) {
  for (std::size_t i = 1; i < v.size(); ++i)
    if (is_comment_start(v[i]) && is_blank(v[i - 1])) return v.substr(0, i);
  return v;
}

// "profile NAME" (blank after the prefix) -> NAME, trimmed; nullopt otherwise.
std::optional<std::string_view> after_profile_prefix(std::string_view inner) {
  constexpr std::string_view kPrefix = "profile";
  if (inner.size() <= kPrefix.size() || inner.substr(0, kPrefix.size()) != kPrefix ||
      !is_blank(inner[kPrefix.size()]))
    return std::nullopt;
  return trim(inner.substr(kPrefix.size()));
}

}  // namespace

ProfileFile parse_profile_file(std::string_view text, ProfileFileKind kind, const std::string& file_name) {
  const bool config = kind == ProfileFileKind::Config;
  ProfileFile out;
  Profile plain_default;  // config file: [default], used only when there is no [profile default]
  bool plain_default_seen = false;

  int line_no = 0;
  bool in_section = false;      // after any section header, even one that is skipped
  Profile* current = nullptr;   // the profile the section's properties go to (nullptr: skipped)
  bool have_property = false;   // a property since the header: continuation lines may follow
  bool sub_properties = false;  // the property above had an empty value: `name = value` lines follow
  std::string* last = nullptr;  // its value, for continuation lines (nullptr when skipped)

  auto fail = [&](const std::string& what) -> void {
    throw UsageError(file_name + ", line " + std::to_string(line_no) + ": " + what + " (AWS shared " +
                     (config ? "config" : "credentials") + " file)");
  };

  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string_view t = trim(line);
    if (t.empty() || is_comment_start(t.front())) continue;

    if (is_blank(line.front())) {  // a continuation of the property above
      if (!in_section) fail("an indented line before any [profile] header");
      if (!have_property) fail("an indented line with no property above it to continue");
      if (sub_properties) {
        auto eq = t.find('=');
        if (eq == std::string_view::npos) fail("expected 'name = value' in the indented block");
        if (trim(t.substr(0, eq)).empty()) fail("a sub-property with no name before '='");
      }
      if (last) *last += "\n" + std::string(t);
      continue;
    }

    if (line.front() == '[') {
      auto close = line.find(']');
      if (close == std::string_view::npos) fail("a section header without its closing ']'");
      const std::string_view rest = trim(line.substr(close + 1));
      if (!rest.empty() && !is_comment_start(rest.front())) fail("text after a section header's ']'");
      const std::string_view inner = trim(line.substr(1, close - 1));
      in_section = true;
      have_property = false;
      sub_properties = false;
      last = nullptr;
      current = nullptr;
      if (config) {
        if (inner == "default") {
          current = &plain_default;
          plain_default_seen = true;
        } else if (auto name = after_profile_prefix(inner); name && valid_name(*name)) {
          current = &out[std::string(*name)];
        }
        // [sso-session ...], [services ...] and unprefixed names are not profiles.
      } else if (!after_profile_prefix(inner) && valid_name(inner)) {
        current = &out[std::string(inner)];
      }
      continue;
    }

    if (!in_section) fail("a property before any [profile] header");
    auto eq = line.find('=');
    if (eq == std::string_view::npos) fail("expected 'name = value', a [profile] header or a comment");
    const std::string_view key = trim(line.substr(0, eq));
    if (key.empty()) fail("a property with no name before '='");
    const std::string_view value = trim(cut_value_comment(line.substr(eq + 1)));
    have_property = true;
    sub_properties = value.empty();
    last = nullptr;
    if (current && valid_name(key)) {
      ProfileValue& pv = (*current)[ascii_lower(key)];
      pv.value = std::string(value);
      pv.line = line_no;
      last = &pv.value;
    }
  }
  if (config && plain_default_seen && !out.count("default")) out["default"] = std::move(plain_default);
  return out;
}

std::optional<ProfileFile> load_profile_file(const std::filesystem::path& path, ProfileFileKind kind) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found) return std::nullopt;
  if (ec) throw UsageError(path.string() + ": " + ec.message());
  if (std::filesystem::is_directory(status))
    throw UsageError(path.string() + ": is a directory, expected the AWS shared " +
                     std::string(kind == ProfileFileKind::Config ? "config" : "credentials") + " file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path.string() + ": cannot read it: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw UsageError(path.string() + ": cannot read it");
  return parse_profile_file(ss.str(), kind, path.string());
}

}  // namespace netsentry::aws
