#pragma once
// Numbers as text fields hold them: a whole field read as a finite number, and a double written the
// shortest way that reads back exactly. The CSV reader and writer and the server's uploads and answers
// all go through these, so a value reads and prints the same everywhere. Inline: the readers and
// writers call them once per cell (a 1,000-row upload of 30 columns is 30,000 calls).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace netsentry {

// Reads a whole field as a finite number into v (surrounding blanks and a leading '+' allowed);
// false when it is not one. Plain integers of up to 15 digits (exact in a double) without from_chars.
inline bool parse_number(std::string_view f, double& v) {
  while (!f.empty() && (f.front() == ' ' || f.front() == '\t')) f.remove_prefix(1);
  while (!f.empty() && (f.back() == ' ' || f.back() == '\t')) f.remove_suffix(1);
  if (!f.empty() && f.front() == '+') f.remove_prefix(1);
  if (f.empty()) return false;
  const bool neg = f.front() == '-';
  const std::string_view digits = neg ? f.substr(1) : f;
  if (!digits.empty() && digits.size() <= 15 &&
      std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::int64_t n = 0;
    for (char c : digits) n = n * 10 + (c - '0');
    v = static_cast<double>(n);
    if (neg) v = -v;  // "-0" is -0.0, as from_chars reads it
    return true;
  }
  auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
  return ec == std::errc() && p == f.data() + f.size() && std::isfinite(v);
}

// The same, as an optional.
inline std::optional<double> parse_number(std::string_view field) {
  double v = 0;
  if (parse_number(field, v)) return v;
  return std::nullopt;
}

// The most characters write_number writes.
inline constexpr std::size_t kNumberChars = 32;

// Writes v at p (room for kNumberChars characters; nothing for NaN) the shortest way that reads back
// exactly ("1", "-0.5", "0.30000000000000004"). Integers below 1e5 (always shortest as plain digits)
// directly. Returns the end.
inline char* write_number(char* p, double v) {
  if (std::isnan(v)) return p;
  if (v > -1e5 && v < 1e5) {
    const int i = static_cast<int>(v);
    if (i == v) {
      if (std::signbit(v)) *p++ = '-';  // -0.0 is "-0"
      auto n = static_cast<unsigned>(i < 0 ? -i : i);
      if (n < 10) {  // most cells of a categorical upload
        *p = static_cast<char>('0' + n);
        return p + 1;
      }
      char buf[8];
      char* b = buf + sizeof buf;
      do {
        *--b = static_cast<char>('0' + n % 10);
        n /= 10;
      } while (n);
      const auto len = static_cast<std::size_t>(buf + sizeof buf - b);
      std::memcpy(p, b, len);
      return p + len;
    }
  }
  return std::to_chars(p, p + kNumberChars, v).ptr;
}

// write_number as a string ("" for NaN).
inline std::string format_number(double v) {
  char buf[kNumberChars];
  return std::string(buf, write_number(buf, v));
}

}  // namespace netsentry
