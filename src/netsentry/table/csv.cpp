#include "netsentry/table/csv.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/core/text.hpp"

namespace netsentry {

namespace {

// Splits one record starting at `pos`; advances `pos` past the record's line end.
// Returns false at end of input. `line` counts physical lines (for messages).
bool next_record(std::string_view s, std::size_t& pos, char delim, std::vector<std::string>& out,
                 std::size_t& line, const std::string& source) {
  out.clear();
  if (pos >= s.size()) return false;
  std::string field;
  bool quoted = false, was_quoted = false;
  std::size_t start_line = line;
  while (pos < s.size()) {
    char ch = s[pos];
    if (quoted) {
      if (ch == '"') {
        if (pos + 1 < s.size() && s[pos + 1] == '"') {
          field += '"';
          pos += 2;
          continue;
        }
        quoted = false;
        ++pos;
        continue;
      }
      if (ch == '\n') ++line;
      field += ch;
      ++pos;
      continue;
    }
    if (ch == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
      ++pos;
      continue;
    }
    if (ch == delim) {
      out.push_back(std::move(field));
      field.clear();
      was_quoted = false;
      ++pos;
      continue;
    }
    if (ch == '\r' || ch == '\n') {
      if (ch == '\r' && pos + 1 < s.size() && s[pos + 1] == '\n') ++pos;
      ++pos;
      ++line;
      out.push_back(std::move(field));
      return true;
    }
    field += ch;
    ++pos;
  }
  if (quoted)
    throw DataError(source + ": line " + std::to_string(start_line) + ": unterminated quoted field");
  out.push_back(std::move(field));
  ++line;
  return true;
}

// A blank line: the record at `pos` has no characters at all (`""`, a quoted empty field, is a record
// of one missing value: how a one-column table writes one).
bool blank_line_at(std::string_view s, std::size_t pos) {
  return pos < s.size() && (s[pos] == '\n' || s[pos] == '\r');
}

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// A UTF-8 BOM opening the first record is not part of its first field, also after blank lines; a
// quoted field that starts with one keeps it.
void skip_bom(std::string_view text, std::size_t& pos) {
  if (text.substr(pos, 3) == kBom) pos += 3;
}

}  // namespace

Table parse_csv(std::string_view text, const std::string& source, const CsvOptions& opt) {
  if (text.substr(0, 3) == kBom) text.remove_prefix(3);  // UTF-8 BOM
  Table t;
  t.source = source;
  std::size_t pos = 0, line = 1;
  std::vector<std::string> rec;
  std::vector<std::string> header;
  if (opt.header) {
    bool blank = true;
    while (blank) {
      blank = blank_line_at(text, pos);
      if (!blank) skip_bom(text, pos);
      if (!next_record(text, pos, opt.delimiter, rec, line, source)) {
        rec.clear();
        break;
      }
    }
    if (rec.empty() || blank) throw DataError(source + ": empty file (no header row)");
    std::unordered_set<std::string> seen;
    for (auto& name : rec) {
      if (name.empty()) throw DataError(source + ": header has an empty column name");
      if (!seen.insert(name).second) throw DataError(source + ": duplicate column '" + name + "' in header");
    }
    header = rec;
  } else {
    if (opt.names.empty())
      throw UsageError(source + ": read without a header row, but no column names were given");
    std::unordered_set<std::string> seen;
    for (auto& name : opt.names) {
      if (name.empty()) throw UsageError(source + ": an empty column name in " + opt.names_from);
      if (!seen.insert(name).second)
        throw UsageError(source + ": column '" + name + "' is named twice in " + opt.names_from);
    }
    header = opt.names;
  }
  // Bytes that are not UTF-8 (a Latin-1 or Windows-1252 export) are read as Latin-1: every cell and
  // name is valid UTF-8 from here on, in messages, reports and bundles alike.
  std::size_t latin1 = 0;
  std::string first_latin1;
  auto to_utf8 = [&](std::string& v, const std::string& where) {
    if (valid_utf8(v)) return;
    v = latin1_to_utf8(v);
    if (latin1++ == 0) first_latin1 = where;
  };
  for (auto& name : header) to_utf8(name, "the header");
  const std::size_t ncol = header.size();
  std::vector<std::vector<std::string>> raw(ncol);
  std::unordered_set<std::string> missing(opt.missing_values.begin(), opt.missing_values.end());
  std::size_t row = 0;
  // Data row N is line N + lines_before while every record is one line and none is blank.
  std::optional<std::size_t> lines_before = line - 1;
  while (true) {
    std::size_t rec_line = line;
    const bool blank = blank_line_at(text, pos);
    if (!opt.header && row == 0 && !blank) skip_bom(text, pos);
    if (!next_record(text, pos, opt.delimiter, rec, line, source)) break;
    if (blank || line != rec_line + 1) lines_before.reset();
    if (blank) continue;
    ++row;
    if (rec.size() != ncol)
      throw DataError(source + ": line " + std::to_string(rec_line) + " (data row " + std::to_string(row) +
                      ") has " + std::to_string(rec.size()) + " fields, " +
                      (opt.header ? "the header has " + std::to_string(ncol)
                                  : "expected " + std::to_string(ncol) + " (one per column of " +
                                        opt.names_from + "; the file has no header row)"));
    for (std::size_t j = 0; j < ncol; ++j) {
      to_utf8(rec[j], "data row " + std::to_string(row) + ", column '" + header[j] + "'");
      raw[j].push_back(std::move(rec[j]));
    }
  }
  if (latin1 > 0)
    spdlog::warn("{}: {} value(s) are not UTF-8 and were read as Latin-1 (the first in {})", source, latin1,
                 first_latin1);
  t.lines_before = lines_before;
  if (!opt.header && row == 0) throw DataError(source + ": empty file (no data rows)");
  t.columns.resize(ncol);
  for (std::size_t j = 0; j < ncol; ++j) {
    Column& c = t.columns[j];
    c.name = header[j];
    std::vector<double> nums(raw[j].size());
    bool numeric = true;
    for (std::size_t i = 0; i < raw[j].size() && numeric; ++i) {
      if (missing.count(raw[j][i])) {
        nums[i] = kMissing;
      } else if (!parse_number(raw[j][i], nums[i])) {
        numeric = false;
      }
    }
    if (numeric) {
      c.type = ColumnType::Numeric;
      c.num = std::move(nums);
    } else {
      c.type = ColumnType::Text;
      c.text = std::move(raw[j]);
      for (auto& v : c.text)
        if (missing.count(v)) v.clear();
    }
  }
  return t;
}

std::optional<Table> parse_numeric_csv(std::string_view text, const std::string& source,
                                       const CsvOptions& opt) {
  if (!opt.header || opt.delimiter != ',' || text.find('"') != std::string_view::npos) return std::nullopt;
  if (text.substr(0, 3) == kBom) text.remove_prefix(3);  // UTF-8 BOM
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
  std::size_t lines_before = 1;
  while ((have = next_line(line)) && line.empty()) ++lines_before;
  if (!have) return std::nullopt;
  if (line.substr(0, 3) == kBom) line.remove_prefix(3);
  Table t;
  t.source = source;
  t.lines_before = lines_before;
  for (std::size_t start = 0;;) {
    const std::size_t comma = line.find(',', start);
    const std::string_view name = line.substr(start, comma == std::string_view::npos ? comma : comma - start);
    if (name.empty() || !valid_utf8(name)) return std::nullopt;  // (parse_csv reads such names as Latin-1)
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
  for (const auto& m : opt.missing_values) {
    if (m.empty())
      empty_is_missing = true;
    else
      token_start[static_cast<unsigned char>(m[0])] = true;
  }
  auto is_missing = [&](std::string_view field) {
    return std::find(opt.missing_values.begin(), opt.missing_values.end(), field) != opt.missing_values.end();
  };
  // The rows in one pass over the text, field by field.
  const char* p = text.data() + pos;
  const char* const end = text.data() + text.size();
  auto at_field_end = [end](const char* q) { return q == end || *q == ',' || *q == '\n' || *q == '\r'; };
  auto skip_line_end = [end](const char*& q) { q += *q == '\r' && q + 1 != end && q[1] == '\n' ? 2 : 1; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  auto may_be_token = [&](char c) { return token_start[static_cast<unsigned char>(c)]; };
  while (p != end) {
    if (*p == '\n' || *p == '\r') {  // a blank line: data row N is no longer line N + lines_before
      t.lines_before.reset();
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
        } else if (!(may_be_token(field[0]) && is_missing(field)) && !parse_number(field, v)) {
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

Table read_csv(const std::filesystem::path& path, const CsvOptions& opt) {
  if (!std::filesystem::exists(path)) throw DataError(path.string() + ": file not found");
  if (std::filesystem::is_directory(path))
    throw DataError(path.string() + ": is a directory, expected a CSV file");
  return parse_csv(read_file(path, opt.max_bytes, "data.max_file_bytes"), path.string(), opt);
}

namespace {
void write_quoted(TextWriter& out, std::string_view f) {
  out.put('"');
  for (char ch : f) {
    if (ch == '"') out.put('"');
    out.put(ch);
  }
  out.put('"');
}
}  // namespace

void write_csv_field(TextWriter& out, std::string_view f) {
  if (f.find_first_of(",\"\r\n") == std::string_view::npos) return out.put(f);
  write_quoted(out, f);
}

void write_csv_download_field(TextWriter& out, std::string_view f) {
  static constexpr std::string_view kFormulaStart = "=+-@\t\r";
  if (f.empty() || kFormulaStart.find(f[0]) == std::string_view::npos || parse_number(f))
    return write_csv_field(out, f);
  std::string guarded = "'";
  guarded.append(f);
  write_csv_field(out, guarded);
}

std::string to_csv(const Table& t) {
  TextWriter out(t.rows() * t.cols() * 3 + 256);
  for (std::size_t j = 0; j < t.cols(); ++j) {
    if (j) out.put(',');
    const std::string& name = t.columns[j].name;
    // The file's first field is quoted where it would read back otherwise: starting with a byte order
    // mark (which a reader strips) or, as a one-column table's only name, empty (a blank line).
    if (j == 0 && (name.starts_with(kBom) || (name.empty() && t.cols() == 1)))
      write_quoted(out, name);
    else
      write_csv_field(out, name);
  }
  out.put('\n');
  // One column: a missing value is written "" (an empty line would be read as a blank line and dropped).
  const bool one_column = t.cols() == 1;
  for (std::size_t i = 0; i < t.rows(); ++i) {
    for (std::size_t j = 0; j < t.cols(); ++j) {
      if (j) out.put(',');
      const Column& c = t.columns[j];
      if (one_column && (c.type == ColumnType::Numeric ? std::isnan(c.num[i]) : c.text[i].empty()))
        out.put("\"\"");
      else if (c.type == ColumnType::Numeric)
        out.number(c.num[i]);
      else
        write_csv_field(out, c.text[i]);
    }
    out.put('\n');
  }
  return out.finish();
}

void write_csv_atomic(const std::filesystem::path& path, const Table& t) {
  write_file_atomic(path, to_csv(t));
}

}  // namespace netsentry
