#include "netsentry/serve/predict_io.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "netsentry/core/error.hpp"
#include "netsentry/table/csv.hpp"

namespace netsentry::serve {

namespace {

bool is_missing_value(std::string_view s, const std::vector<std::string>& missing_values) {
  for (const auto& t : missing_values)
    if (s == t) return true;
  return false;
}

bool is_missing_token(std::string_view s, const InputRules& rules) {
  return is_missing_value(s, rules.missing_values);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A number from text, or nullopt when it is not one. Missing tokens give NaN.
std::optional<double> number_from_text(std::string_view raw, const InputRules& rules) {
  if (is_missing_token(raw, rules)) return kMissing;
  auto s = trim(raw);
  if (s.empty() || is_missing_token(s, rules)) return kMissing;
  if (s.front() == '+') s.remove_prefix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

bool ignored(const std::string& name, const InputRules& rules) {
  return std::find(rules.ignored_columns.begin(), rules.ignored_columns.end(), name) !=
         rules.ignored_columns.end();
}

void check_rows(std::size_t n, const InputRules& rules) {
  if (n == 0) throw RequestError(400, "no records to score");
  if (n > rules.max_rows)
    throw RequestError(
        413, std::to_string(n) + " records in one request; the limit is " + std::to_string(rules.max_rows));
}

// A whole field as a finite number, as parse_csv reads it (blanks around it and a leading '+'
// allowed); plain integers of up to 15 digits without from_chars.
bool field_number(std::string_view f, double& v) {
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

// The common upload, parsed in one pass without building a string per field: no quotes, every
// column numeric (numbers and missing tokens), a unique non-empty name per column and the same
// number of fields on every line. Gives exactly the table parse_csv gives for such text; nullopt
// for anything else (parse_csv then decides, with its messages).
std::optional<Table> parse_numeric_csv(std::string_view text,
                                       const std::vector<std::string>& missing_values) {
  if (text.find('"') != std::string_view::npos) return std::nullopt;
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM
  std::size_t pos = 0;
  // The next line (a record: no quotes here), without its line end ("\n", "\r\n" or "\r").
  auto next_line = [&](std::string_view& line) {
    if (pos >= text.size()) return false;
    std::size_t end = pos;
    while (end < text.size() && text[end] != '\n' && text[end] != '\r') ++end;
    line = text.substr(pos, end - pos);
    pos = end;
    if (pos < text.size() && text[pos] == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') ++pos;
    if (pos < text.size()) ++pos;
    return true;
  };
  std::string_view line;
  bool have = false;
  while ((have = next_line(line)) && line.empty()) {
  }
  if (!have) return std::nullopt;
  Table t;
  t.source = "upload";
  for (std::size_t start = 0;;) {
    const std::size_t comma = line.find(',', start);
    const std::string_view name = line.substr(start, comma == std::string_view::npos ? comma : comma - start);
    if (name.empty()) return std::nullopt;
    for (const auto& c : t.columns)
      if (c.name == name) return std::nullopt;
    t.columns.push_back({std::string(name), ColumnType::Numeric, {}, {}});
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  const std::size_t ncol = t.columns.size();
  const std::size_t lines = static_cast<std::size_t>(std::count(
                                text.begin() + static_cast<std::ptrdiff_t>(pos), text.end(), '\n')) +
                            1;
  for (auto& c : t.columns) c.num.reserve(lines);
  // Characters a missing token starts with: other fields need no comparison with the tokens.
  bool empty_is_missing = false;
  std::array<bool, 256> token_start{};
  for (const auto& m : missing_values) {
    if (m.empty())
      empty_is_missing = true;
    else
      token_start[static_cast<unsigned char>(m[0])] = true;
  }
  // The rows in one pass over the text, field by field.
  const char* p = text.data() + pos;
  const char* const end = text.data() + text.size();
  auto at_field_end = [end](const char* q) { return q == end || *q == ',' || *q == '\n' || *q == '\r'; };
  auto skip_line_end = [end](const char*& q) { q += *q == '\r' && q + 1 != end && q[1] == '\n' ? 2 : 1; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  auto may_be_token = [&](char c) { return token_start[static_cast<unsigned char>(c)]; };
  while (p != end) {
    if (*p == '\n' || *p == '\r') {  // a blank line
      skip_line_end(p);
      continue;
    }
    for (std::size_t j = 0; j < ncol; ++j) {
      double v = kMissing;
      if (p != end && digit(*p) && !may_be_token(*p) && at_field_end(p + 1)) {  // the common case: "0", "1"
        v = *p - '0';
        p += 1;
      } else if (p != end && *p == '-' && !may_be_token('-') && p + 1 != end && digit(p[1]) &&
                 at_field_end(p + 2)) {  // "-1"; "-0" is -0.0
        v = -static_cast<double>(p[1] - '0');
        p += 2;
      } else {
        const char* f = p;
        while (!at_field_end(p)) ++p;
        const std::string_view field(f, static_cast<std::size_t>(p - f));
        if (field.empty()) {
          if (!empty_is_missing) return std::nullopt;  // a text value
        } else if (!(may_be_token(field[0]) && is_missing_value(field, missing_values)) &&
                   !field_number(field, v)) {
          return std::nullopt;  // a text value
        }
      }
      if (j + 1 < ncol) {
        if (p == end || *p != ',') return std::nullopt;  // fewer fields than the header
        ++p;
      } else if (p != end && *p == ',') {
        return std::nullopt;  // more fields than the header
      }
      t.columns[j].num.push_back(v);
    }
    if (p != end) skip_line_end(p);
  }
  if (t.rows() == 0) return std::nullopt;
  return t;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 6);
  if (ec != std::errc()) {
    out += "null";
    return;
  }
  out.append(buf, p);
}

namespace {

// format_number(v) at p (room for 32 characters; nothing for NaN): the shortest form that reads back
// exactly. Integers below 1e5 (always shortest as plain digits) directly. Returns the end.
char* write_number(char* p, double v) {
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
  return std::to_chars(p, p + 32, v).ptr;
}

// Writes a large answer (1,000 rows x 30 columns) through a raw pointer: many small appends to a
// std::string cost more than the bytes. The string grows in large steps and is cut to size at the end.
class Writer {
 public:
  explicit Writer(std::size_t expect) { s_.resize(std::max<std::size_t>(expect, 256)); }

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
  // format_number(v): the shortest form that reads back exactly; nothing for NaN. Integers below 1e5
  // (always shortest as plain digits) directly.
  void number(double v) { n_ += static_cast<std::size_t>(write_number(room(32), v) - (s_.data() + n_)); }
  // before, format_number(v) (`missing` for NaN), after: one bounds check for the three.
  void number_between(std::string_view before, double v, std::string_view after,
                      std::string_view missing = "") {
    char* p = room(before.size() + std::max<std::size_t>(32, missing.size()) + after.size());
    p = copy(p, before);
    p = std::isnan(v) ? copy(p, missing) : write_number(p, v);
    p = copy(p, after);
    n_ = static_cast<std::size_t>(p - s_.data());
  }
  // A CSV field as to_csv writes it: quoted when it holds a comma, a quote or a line end.
  void csv_field(std::string_view f) {
    if (f.find_first_of(",\"\r\n") == std::string_view::npos) return put(f);
    put('"');
    for (char ch : f) {
      if (ch == '"') put('"');
      put(ch);
    }
    put('"');
  }
  void html(std::string_view s) {
    for (char c : s) {
      switch (c) {
        case '&':
          put("&amp;");
          break;
        case '<':
          put("&lt;");
          break;
        case '>':
          put("&gt;");
          break;
        case '"':
          put("&quot;");
          break;
        case '\'':
          put("&#39;");
          break;
        default:
          put(c);
      }
    }
  }
  static char* copy(char* p, std::string_view v) {
    if (!v.empty()) std::memcpy(p, v.data(), v.size());  // (an empty view may have no data)
    return p + v.size();
  }
  std::string finish() {
    s_.resize(n_);
    return std::move(s_);
  }

 private:
  std::string s_;
  std::size_t n_ = 0;
};

}  // namespace

std::string error_json(const std::string& message, const std::optional<std::string>& column,
                       const std::optional<std::size_t>& row) {
  std::string o = "{\"error\":";
  append_json_string(o, message);
  o += ",\"column\":";
  if (column)
    append_json_string(o, *column);
  else
    o += "null";
  o += ",\"row\":";
  o += row ? std::to_string(*row) : std::string("null");
  o += '}';
  return o;
}

namespace {

// Streams {"records": [...]} / {"rows": [...]} straight into the feature matrix: no JSON document is
// built (no per-key allocations), and a request over the row limit stops at the first extra row.
class PredictSax {
 public:
  PredictSax(const LoadedModel& m, const InputRules& rules, PredictRequest& out)
      : m_(m), rules_(rules), out_(out), nf_(m.features.size()), seen_(nf_) {}

  bool null() { return value(kMissing, "null"); }
  bool boolean(bool b) {
    if (depth_ == 1 && top_key_ == TopKey::Explain) {
      out_.explain = b;
      return true;
    }
    if (ignoring()) return true;
    return value_error(b ? "true" : "false");
  }
  bool number_integer(std::int64_t v) { return value(static_cast<double>(v), nullptr); }
  bool number_unsigned(std::uint64_t v) { return value(static_cast<double>(v), nullptr); }
  bool number_float(double v, const std::string&) { return value(v, nullptr); }
  bool string(std::string& s) {
    if (ignoring()) return true;
    if (depth_ == 1 && top_key_ == TopKey::Explain)
      throw RequestError(400, "\"explain\" must be true or false");
    if (auto d = number_from_text(s, rules_)) return value(*d, "a string");
    return value_error("\"" + (s.size() > 40 ? s.substr(0, 40) + "..." : s) + "\"");
  }
  bool binary(nlohmann::json::binary_t&) { return value_error("binary"); }

  bool start_object(std::size_t) {
    ++depth_;
    if (depth_ == 1) return true;
    if (depth_ == 3 && top_key_ == TopKey::Records) {
      begin_row();
      std::fill(seen_.begin(), seen_.end(), 0);
      col_ = SIZE_MAX;
      return true;
    }
    if (depth_ == 3 && top_key_ == TopKey::Rows)
      throw RequestError(400,
                         "row " + std::to_string(rows_) + ": expected an array of " + std::to_string(nf_) +
                             " values in feature order (see GET /api/v1/model), got object",
                         std::nullopt, rows_);
    if (depth_ == 2 && top_key_ == TopKey::Records)
      throw RequestError(400, "\"records\" must be an array of objects");
    if (depth_ == 2 && top_key_ == TopKey::Rows)
      throw RequestError(400, "\"rows\" must be an array of arrays");
    return value_error("an object");
  }
  bool end_object() {
    if (depth_ == 3 && top_key_ == TopKey::Records) {
      const std::size_t r = rows_ - 1;
      for (std::size_t c = 0; c < nf_; ++c)
        if (!seen_[c])
          throw RequestError(400, "record " + std::to_string(r) + ": missing column '" + m_.features[c] + "'",
                             m_.features[c], r);
    }
    --depth_;
    return true;
  }
  bool start_array(std::size_t) {
    ++depth_;
    if (depth_ == 1) throw RequestError(400, "expected a JSON object with \"records\" or \"rows\"");
    if (depth_ == 2) {
      if (top_key_ == TopKey::Explain) throw RequestError(400, "\"explain\" must be true or false");
      return true;
    }
    if (depth_ == 3 && top_key_ == TopKey::Rows) {
      begin_row();
      col_ = 0;
      return true;
    }
    if (depth_ == 3 && top_key_ == TopKey::Records)
      throw RequestError(400, "record " + std::to_string(rows_) + " is not an object", std::nullopt, rows_);
    return value_error("an array");
  }
  bool end_array() {
    if (depth_ == 3 && top_key_ == TopKey::Rows && col_ != nf_) wrong_row_length(col_);
    --depth_;
    return true;
  }
  bool key(std::string& k) {
    if (depth_ == 1) {
      if (k == "records" || k == "rows") {
        if (collection_seen_)
          throw RequestError(400, "expected exactly one of \"records\" (objects) or \"rows\" (arrays)");
        collection_seen_ = true;
        top_key_ = k == "records" ? TopKey::Records : TopKey::Rows;
      } else if (k == "explain") {
        top_key_ = TopKey::Explain;
      } else {
        throw RequestError(400, "unknown field \"" + k + "\" (expected records, rows, explain)");
      }
      return true;
    }
    // depth 3: a column of a record
    const std::size_t r = rows_ - 1;
    auto f = m_.index.find(k);
    if (f == m_.index.end()) {
      if (k == m_.target || std::find(rules_.ignored_columns.begin(), rules_.ignored_columns.end(), k) !=
                                rules_.ignored_columns.end()) {
        col_ = SIZE_MAX - 1;  // accepted, ignored
        return true;
      }
      throw RequestError(400, "record " + std::to_string(r) + ": unknown column '" + k + "'", k, r);
    }
    col_ = f->second;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    throw RequestError(400, std::string("invalid JSON: ") + e.what());
  }

  void finish() {
    if (!collection_seen_)
      throw RequestError(400, "expected exactly one of \"records\" (objects) or \"rows\" (arrays)");
    if (rows_ == 0) throw RequestError(400, "no records to score");
    out_.X.rows = rows_;
    out_.X.cols = nf_;
  }

 private:
  enum class TopKey { None, Records, Rows, Explain };

  // Inside a record, at the value of a column that is accepted and ignored (the target).
  bool ignoring() const { return depth_ == 3 && top_key_ == TopKey::Records && col_ == SIZE_MAX - 1; }

  void begin_row() {
    if (rows_ >= rules_.max_rows)
      throw RequestError(413, "more than " + std::to_string(rules_.max_rows) +
                                  " records in one request; the limit is " + std::to_string(rules_.max_rows));
    ++rows_;
    out_.X.data.resize(rows_ * nf_, kMissing);
  }

  [[noreturn]] void wrong_row_length(std::size_t got) {
    const std::size_t r = rows_ - 1;
    throw RequestError(400,
                       "row " + std::to_string(r) + ": expected an array of " + std::to_string(nf_) +
                           " values in feature order (see GET /api/v1/model), got " + std::to_string(got) +
                           " values",
                       std::nullopt, r);
  }

  // A scalar: a feature value inside a record or a row, or a value where none belongs.
  bool value(double v, const char* shown) {
    if (depth_ == 3 && top_key_ == TopKey::Records) {
      if (col_ == SIZE_MAX - 1) return true;  // an ignored column
      if (!std::isfinite(v) && !std::isnan(v)) return value_error("a non-finite number");
      out_.X.data[(rows_ - 1) * nf_ + col_] = v;
      seen_[col_] = 1;
      return true;
    }
    if (depth_ == 3 && top_key_ == TopKey::Rows) {
      if (col_ >= nf_) wrong_row_length(col_ + 1);
      if (!std::isfinite(v) && !std::isnan(v)) return value_error("a non-finite number");
      out_.X.data[(rows_ - 1) * nf_ + col_] = v;
      ++col_;
      return true;
    }
    if (depth_ == 2 && top_key_ == TopKey::Records)
      throw RequestError(400, "record " + std::to_string(rows_) + " is not an object", std::nullopt, rows_);
    if (depth_ == 2 && top_key_ == TopKey::Rows)
      throw RequestError(400,
                         "row " + std::to_string(rows_) + ": expected an array of " + std::to_string(nf_) +
                             " values in feature order (see GET /api/v1/model), got " +
                             (shown ? shown : "a number"),
                         std::nullopt, rows_);
    if (depth_ == 1 && top_key_ == TopKey::Explain)
      throw RequestError(400, "\"explain\" must be true or false");
    if (depth_ == 1 && (top_key_ == TopKey::Records || top_key_ == TopKey::Rows))
      throw RequestError(400, top_key_ == TopKey::Records ? "\"records\" must be an array of objects"
                                                          : "\"rows\" must be an array of arrays");
    if (depth_ == 0) throw RequestError(400, "expected a JSON object with \"records\" or \"rows\"");
    return value_error(shown ? shown : "a number");
  }

  bool value_error(const std::string& shown) {
    if (depth_ >= 3 && rows_ > 0 && (top_key_ == TopKey::Records || top_key_ == TopKey::Rows)) {
      const std::size_t r = rows_ - 1;
      const bool named = col_ < nf_;
      const std::string column = named ? m_.features[col_] : std::string();
      throw RequestError(400,
                         (top_key_ == TopKey::Records ? "record " : "row ") + std::to_string(r) +
                             (named ? ", column '" + column + "'" : std::string()) +
                             ": expected a number, got " + shown,
                         named ? std::optional<std::string>(column) : std::nullopt, r);
    }
    if (depth_ == 1 && top_key_ == TopKey::Explain)
      throw RequestError(400, "\"explain\" must be true or false");
    if (depth_ == 0) throw RequestError(400, "expected a JSON object with \"records\" or \"rows\"");
    throw RequestError(400, "unexpected " + shown + " in the request");
  }

  const LoadedModel& m_;
  const InputRules& rules_;
  PredictRequest& out_;
  const std::size_t nf_;
  std::vector<char> seen_;
  int depth_ = 0;
  TopKey top_key_ = TopKey::None;
  bool collection_seen_ = false;
  std::size_t rows_ = 0;
  std::size_t col_ = 0;
};

}  // namespace

PredictRequest parse_predict_json(std::string_view body, const LoadedModel& m, const InputRules& rules) {
  PredictRequest req;
  PredictSax sax(m, rules, req);
  nlohmann::json::sax_parse(body.begin(), body.end(), &sax);
  sax.finish();
  return req;
}

CsvRequest parse_predict_csv(std::string_view text, const LoadedModel& m, const InputRules& rules) {
  // Refuse before parsing when the lines alone are over the limit (quoted fields may hold newlines:
  // then the exact count after parsing decides).
  if (static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) > rules.max_rows &&
      text.find('"') == std::string_view::npos) {
    std::size_t nonblank = 0;
    for (std::size_t start = 0; start < text.size();) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      if (!trim(text.substr(start, end - start)).empty()) ++nonblank;
      start = end + 1;
    }
    if (nonblank > rules.max_rows + 1)
      throw RequestError(413, std::to_string(nonblank - 1) + " rows in one request; the limit is " +
                                  std::to_string(rules.max_rows));
  }
  CsvRequest req;
  if (auto fast = parse_numeric_csv(text, rules.missing_values)) {
    req.table = std::move(*fast);
  } else {
    CsvOptions opt;
    opt.missing_values = rules.missing_values;
    try {
      req.table = parse_csv(text, "upload", opt);
    } catch (const DataError& e) {
      throw RequestError(400, e.what());
    }
  }
  check_rows(req.table.rows(), rules);
  const std::size_t nf = m.features.size();
  std::vector<const Column*> cols(nf, nullptr);
  for (const auto& c : req.table.columns) {
    auto f = m.index.find(c.name);
    if (f == m.index.end()) {
      if (c.name == m.target || ignored(c.name, rules)) continue;
      throw RequestError(400, "unknown column '" + c.name + "'", c.name);
    }
    cols[f->second] = &c;
  }
  for (std::size_t i = 0; i < nf; ++i)
    if (!cols[i]) throw RequestError(400, "missing column '" + m.features[i] + "'", m.features[i]);
  const std::size_t n = req.table.rows();
  req.X = Matrix(n, nf);
  for (std::size_t i = 0; i < nf; ++i) {
    const Column& c = *cols[i];
    if (c.type == ColumnType::Numeric) {
      for (std::size_t r = 0; r < n; ++r) req.X(r, i) = c.num[r];
    } else {
      for (std::size_t r = 0; r < n; ++r) {
        auto v = number_from_text(c.text[r], rules);
        if (!v) {
          std::string shown = c.text[r].size() > 40 ? c.text[r].substr(0, 40) + "..." : c.text[r];
          throw RequestError(400,
                             "row " + std::to_string(r) + " (line " + std::to_string(r + 2) + "), column '" +
                                 c.name + "': expected a number, got '" + shown + "'",
                             c.name, r);
        }
        req.X(r, i) = *v;
      }
    }
  }
  return req;
}

Scores run_model(const LoadedModel& m, const Matrix& X, bool explain) {
  Scores s;
  s.scored = m.bundle.score(X);
  if (s.scored.label.size() != X.rows || s.scored.probability.size() != X.rows)
    throw std::runtime_error("the model answered a wrong number of predictions");
  if (explain && m.can_explain) {
    s.contributions = m.bundle.explain(X, m.attribution);
    if (s.contributions && (s.contributions->rows != X.rows || s.contributions->cols < m.features.size()))
      s.contributions.reset();
  }
  return s;
}

namespace {

// Indices of the top_k features by |contribution| (non-zero only), largest first.
void top_reasons(const Matrix& contrib, std::size_t r, std::size_t nf, int top_k,
                 std::vector<std::size_t>& idx) {
  idx.clear();
  auto row = contrib.row(r);
  for (std::size_t c = 0; c < nf; ++c)
    if (row[c] != 0.0 && std::isfinite(row[c])) idx.push_back(c);
  const std::size_t k = std::min<std::size_t>(idx.size(), static_cast<std::size_t>(std::max(top_k, 0)));
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(),
                    [&](std::size_t a, std::size_t b) { return std::fabs(row[a]) > std::fabs(row[b]); });
  idx.resize(k);
}

double verdict_probability(const Scored& s, std::size_t r) {
  return s.label[r] == 1 ? s.probability[r] : 1.0 - s.probability[r];
}

}  // namespace

void append_predictions_json(std::string& out, const LoadedModel& m, const Matrix& X, const Scores& s,
                             int top_k, std::string_view note) {
  const std::size_t n = X.rows, nf = m.features.size();
  out.reserve(out.size() + 64 + n * (160 + (s.contributions ? 90 * static_cast<std::size_t>(top_k) : 0)));
  out += "{\"model_version\":";
  append_json_string(out, m.version);
  out += ",\"count\":";
  out += std::to_string(n);
  if (!note.empty()) {
    out += ",\"explanations\":";
    append_json_string(out, note);
  }
  out += ",\"predictions\":[";
  thread_local std::vector<std::size_t> idx;
  for (std::size_t r = 0; r < n; ++r) {
    const int cls = s.scored.label[r] == 1 ? 1 : 0;
    if (r) out += ',';
    out += "{\"row\":";
    out += std::to_string(r);
    out += ",\"class\":";
    out += cls ? '1' : '0';
    out += ",\"label\":";
    append_json_string(out, m.class_value[cls]);
    out += ",\"verdict\":";
    append_json_string(out, m.verdict[cls]);
    out += ",\"probability\":";
    append_number(out, verdict_probability(s.scored, r));
    out += ",\"probabilities\":{";
    append_json_string(out, m.class_value[0]);
    out += ':';
    append_number(out, 1.0 - s.scored.probability[r]);
    out += ',';
    append_json_string(out, m.class_value[1]);
    out += ':';
    append_number(out, s.scored.probability[r]);
    out += '}';
    if (s.contributions) {
      top_reasons(*s.contributions, r, nf, top_k, idx);
      out += ",\"reasons\":[";
      for (std::size_t k = 0; k < idx.size(); ++k) {
        const std::size_t c = idx[k];
        const double v = (*s.contributions)(r, c);
        if (k) out += ',';
        out += "{\"feature\":";
        append_json_string(out, m.features[c]);
        out += ",\"value\":";
        append_number(out, X(r, c));
        out += ",\"contribution\":";
        append_number(out, v);
        out += ",\"towards\":";
        append_json_string(out, m.verdict[v > 0 ? 1 : 0]);
        out += '}';
      }
      out += ']';
    }
    out += '}';
  }
  out += "]}";
}

std::string predictions_csv(const Table& input, const LoadedModel& m, const Matrix& X, const Scores& s,
                            int top_k) {
  // What to_csv writes for the upload with label, verdict, probability (and reasons) appended.
  const std::size_t n = X.rows, nf = m.features.size();
  std::string names[4] = {"label", "verdict", "probability", "reasons"};
  // Names already taken by the upload get a "predicted_" prefix.
  for (auto& name : names)
    while (input.find(name)) name = "predicted_" + name;
  const std::size_t added = s.contributions ? 4 : 3;
  Writer out(
      256 + (n + 1) * (input.cols() * 4 + 40 + (s.contributions ? 48 * static_cast<std::size_t>(top_k) : 0)));
  bool first = true;
  for (const auto& c : input.columns) {
    if (!first) out.put(',');
    first = false;
    out.csv_field(c.name);
  }
  for (std::size_t k = 0; k < added; ++k) {
    if (!first) out.put(',');
    first = false;
    out.csv_field(names[k]);
  }
  out.put('\n');
  std::vector<std::size_t> idx;
  std::string txt;
  for (std::size_t r = 0; r < n; ++r) {
    for (const auto& c : input.columns) {
      if (c.type == ColumnType::Numeric) {
        out.number_between("", c.num[r], ",");
      } else {
        out.csv_field(c.text[r]);
        out.put(',');
      }
    }
    const int cls = s.scored.label[r] == 1 ? 1 : 0;
    out.csv_field(m.class_value[cls]);
    out.put(',');
    out.csv_field(m.verdict[cls]);
    out.put(',');
    out.number(std::round(verdict_probability(s.scored, r) * 1e6) / 1e6);
    if (s.contributions) {
      top_reasons(*s.contributions, r, nf, top_k, idx);
      txt.clear();
      for (std::size_t k = 0; k < idx.size(); ++k) {
        if (k) txt += "; ";
        txt += m.features[idx[k]];
        txt += '=';
        append_number(txt, X(r, idx[k]));
        txt += " (";
        const double c = (*s.contributions)(r, idx[k]);
        if (c > 0) txt += '+';
        append_number(txt, c);
        txt += ')';
      }
      out.put(',');
      out.csv_field(txt);
    }
    out.put('\n');
  }
  return out.finish();
}

std::string html_escape(std::string_view s) {
  Writer o(s.size());
  o.html(s);
  return o.finish();
}

std::string predictions_html(const Table& input, const Scores& s) {
  const std::size_t n = input.rows();
  Writer o(512 + input.cols() * 48 + n * (48 + (input.cols() + 1) * 20));
  o.put("<!DOCTYPE html><html><head><title>Predictions</title></head><body>");
  o.put(
      "<table border=\"1\" class=\"dataframe table table-striped\">\n  <thead>\n    <tr style=\"text-align: "
      "right;\">\n"
      "      <th></th>\n");
  for (const auto& c : input.columns) {
    o.put("      <th>");
    o.html(c.name);
    o.put("</th>\n");
  }
  o.put("      <th>predicted_column</th>\n    </tr>\n  </thead>\n  <tbody>\n");
  for (std::size_t r = 0; r < n; ++r) {
    o.put("    <tr>\n      <th>");
    o.put_count(r);
    o.put("</th>\n");
    for (const auto& c : input.columns) {
      if (c.type == ColumnType::Numeric) {
        o.number_between("      <td>", c.num[r], "</td>\n", "NaN");
      } else {
        o.put("      <td>");
        o.html(c.text[r]);
        o.put("</td>\n");
      }
    }
    o.put(s.scored.label[r] == 1 ? "      <td>1</td>\n    </tr>\n" : "      <td>0</td>\n    </tr>\n");
  }
  o.put("  </tbody>\n</table></body></html>");
  return o.finish();
}

}  // namespace netsentry::serve
