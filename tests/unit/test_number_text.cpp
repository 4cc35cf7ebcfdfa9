// The shared number reader and writer: their integer shortcuts give exactly what from_chars and
// to_chars give, so every reader and writer of fields agrees with the plain library calls.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "netsentry/table/number_text.hpp"

using namespace netsentry;

namespace {

// What the shortcuts stand for: blanks trimmed, one leading '+' dropped, from_chars of the rest.
std::optional<double> plain_parse(std::string_view f) {
  while (!f.empty() && (f.front() == ' ' || f.front() == '\t')) f.remove_prefix(1);
  while (!f.empty() && (f.back() == ' ' || f.back() == '\t')) f.remove_suffix(1);
  if (!f.empty() && f.front() == '+') f.remove_prefix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
  if (f.empty() || ec != std::errc() || p != f.data() + f.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string plain_format(double v) {
  if (std::isnan(v)) return "";
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

}  // namespace

TEST(NumberText, ParsesAsFromCharsDoes) {
  const std::vector<std::string> fields = {
      // integers, with signs and blanks
      "0", "1", "-1", "-0", "+0", "007", " 3", "4\t", "+-5", "123456789012345", "-999999999999999",
      // past the shortcut: 16 and more digits, fractions, exponents
      "1234567890123456", "99999999999999999999", "1e5", "0.5", "1.", ".5",
      // not numbers
      "1e400", "--5", "-", "+", "", " ", "inf", "-inf", "nan", "x1", "1x", "1 2", "+ 1", "0x10", "1,5", "\r1",
      "1\r"};
  for (const auto& f : fields) {
    SCOPED_TRACE("'" + f + "'");
    const auto got = parse_number(f), want = plain_parse(f);
    ASSERT_EQ(got.has_value(), want.has_value());
    if (got) {
      EXPECT_EQ(*got, *want);
      EXPECT_EQ(std::signbit(*got), std::signbit(*want));
    }
  }
}

TEST(NumberText, WritesAsToCharsDoes) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> values = {// the shortcut's edges: one digit, below 1e5, -0
                                0.0, -0.0, 1, -1, 9, 10, 99999, -99999, 12345.5,
                                // past it
                                1e5, -1e5, 100001, 0.5, -0.25, 0.1 + 0.2, 1e300, 5e-324, kInf, -kInf,
                                std::numeric_limits<double>::quiet_NaN()};
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> whole(-200000, 200000);
  std::uniform_real_distribution<double> real(-1e6, 1e6);
  for (int i = 0; i < 2000; ++i) {
    values.push_back(whole(rng));
    values.push_back(real(rng));
  }
  for (double v : values) {
    SCOPED_TRACE(v);
    EXPECT_EQ(format_number(v), plain_format(v));
    if (std::isfinite(v)) {  // and it reads back exactly
      double back = 0;
      ASSERT_TRUE(parse_number(format_number(v), back));
      EXPECT_EQ(back, v);
      EXPECT_EQ(std::signbit(back), std::signbit(v));
    }
  }
}
