#include "netsentry/table/time_text.hpp"

#include <cmath>
#include <cstdint>

#include "netsentry/core/error.hpp"
#include "netsentry/table/number_text.hpp"

namespace netsentry {

namespace {

// Days from 1970-01-01 to the proleptic Gregorian date y-m-d (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos` into `out`.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  pos += n;
  return true;
}

bool blank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

std::optional<double> parse_iso8601(std::string_view s) {
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  std::size_t pos = 0;
  unsigned year = 0, month = 0, day = 0;
  if (!digits(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, month) ||
      pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, day))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  double seconds = static_cast<double>(days_from_civil(year, month, day)) * 86400.0;
  if (pos == s.size()) return seconds;  // a date alone

  const char sep = s[pos++];
  if (sep != 'T' && sep != 't' && sep != ' ') return std::nullopt;
  unsigned hour = 0, minute = 0, second = 0;
  if (!digits(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':' || !digits(s, pos, 2, minute))
    return std::nullopt;
  double fraction = 0.0;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!digits(s, pos, 2, second)) return std::nullopt;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
      ++pos;
      double scale = 0.1;
      const std::size_t start = pos;
      for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, scale /= 10)
        fraction += (s[pos] - '0') * scale;
      if (pos == start) return std::nullopt;
    }
  }
  if (hour > 23 || minute > 59 || second > 60) return std::nullopt;  // 60: a leap second
  seconds += hour * 3600.0 + minute * 60.0 + second + fraction;
  if (pos == s.size()) return seconds;  // no zone: UTC

  if (s[pos] == 'Z' || s[pos] == 'z')
    return pos + 1 == s.size() ? std::optional<double>(seconds) : std::nullopt;
  if (s[pos] != '+' && s[pos] != '-') return std::nullopt;
  const double sign = s[pos++] == '+' ? 1.0 : -1.0;
  unsigned zh = 0, zm = 0;
  if (!digits(s, pos, 2, zh)) return std::nullopt;
  const bool colon = pos < s.size() && s[pos] == ':';
  if (colon) ++pos;
  if ((colon || pos < s.size()) && !digits(s, pos, 2, zm)) return std::nullopt;
  if (pos != s.size() || zh > 23 || zm > 59) return std::nullopt;
  return seconds - sign * (zh * 3600.0 + zm * 60.0);  // local time minus its offset: UTC
}

std::vector<double> time_values(const Table& t, const std::string& name) {
  const auto idx = t.find(name);
  if (!idx)
    throw DataError(t.source + ": time column '" + name + "' is missing (ingestion.time_column; " +
                    std::to_string(t.cols()) + " columns)");
  const Column& c = t.columns[*idx];
  auto fail = [&](std::size_t i, const std::string& what) {
    throw DataError(t.source + ": " + t.row_label(i) + ", column '" + name +
                    "' (ingestion.time_column): " + what);
  };
  std::vector<double> out(t.rows());
  if (c.type == ColumnType::Numeric) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (std::isnan(c.num[i])) fail(i, "missing time value");
      out[i] = c.num[i];
    }
    return out;
  }
  // Text: ISO-8601, or numbers when the first value is one.
  const bool numbers = !c.text.empty() && !c.text[0].empty() && parse_number(c.text[0]).has_value();
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::string& v = c.text[i];
    if (v.empty()) fail(i, "missing time value");
    const auto parsed = numbers ? parse_number(v) : parse_iso8601(v);
    if (!parsed || !std::isfinite(*parsed))
      fail(i, numbers ? "'" + v + "' is not a number, as the column's first value is"
                      : "'" + v +
                            "' is not an ISO-8601 date/time (such as 2024-05-01, 2024-05-01T13:45:07Z or "
                            "2024-05-01 13:45:07+02:00; or numbers throughout)");
    out[i] = *parsed;
  }
  return out;
}

}  // namespace netsentry
