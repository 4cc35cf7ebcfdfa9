#pragma once
// An output buffer for large text answers (1,000 rows x 30 columns of CSV or HTML), written through a
// raw pointer: many small appends to a std::string cost more than the bytes. The string grows in large
// steps and is cut to size at the end.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#include "netsentry/table/number_text.hpp"

namespace netsentry {

class TextWriter {
 public:
  explicit TextWriter(std::size_t expect) { s_.resize(std::max<std::size_t>(expect, 256)); }

  // Room for k more characters at the end (valid until the next call).
  char* room(std::size_t k) {
    if (n_ + k > s_.size()) s_.resize(std::max(s_.size() * 2, n_ + k));
    return s_.data() + n_;
  }
  void put(std::string_view v) {
    copy(room(v.size()), v);
    n_ += v.size();
  }
  void put(char c) {
    *room(1) = c;
    ++n_;
  }
  void put_count(std::size_t v) {
    char* p = room(24);
    n_ += static_cast<std::size_t>(std::to_chars(p, p + 24, v).ptr - p);
  }
  // write_number(v): the shortest form that reads back exactly; nothing for NaN.
  void number(double v) {
    n_ += static_cast<std::size_t>(write_number(room(kNumberChars), v) - (s_.data() + n_));
  }
  // before, write_number(v) (`missing` for NaN), after: one bounds check for the three.
  void number_between(std::string_view before, double v, std::string_view after,
                      std::string_view missing = "") {
    char* p = room(before.size() + std::max(kNumberChars, missing.size()) + after.size());
    p = copy(p, before);
    p = std::isnan(v) ? copy(p, missing) : write_number(p, v);
    p = copy(p, after);
    n_ = static_cast<std::size_t>(p - s_.data());
  }
  // The text written, as one string (the writer is spent).
  std::string finish() {
    s_.resize(n_);
    return std::move(s_);
  }

 private:
  static char* copy(char* p, std::string_view v) {
    if (!v.empty()) std::memcpy(p, v.data(), v.size());  // (an empty view may have no data)
    return p + v.size();
  }

  std::string s_;
  std::size_t n_ = 0;
};

}  // namespace netsentry
