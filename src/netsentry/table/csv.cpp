#include "netsentry/table/csv.hpp"

#include <charconv>
#include <cmath>
#include <unordered_set>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"

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

bool parse_double(std::string_view f, double& v) {
  while (!f.empty() && (f.front() == ' ' || f.front() == '\t')) f.remove_prefix(1);
  while (!f.empty() && (f.back() == ' ' || f.back() == '\t')) f.remove_suffix(1);
  if (!f.empty() && f.front() == '+') f.remove_prefix(1);
  if (f.empty()) return false;
  auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
  return ec == std::errc() && p == f.data() + f.size() && std::isfinite(v);
}

}  // namespace

std::optional<double> parse_number(std::string_view field) {
  double v = 0;
  if (parse_double(field, v)) return v;
  return std::nullopt;
}

namespace {

bool is_blank_record(const std::vector<std::string>& rec) { return rec.size() == 1 && rec[0].empty(); }

}  // namespace

Table parse_csv(std::string_view text, const std::string& source, const CsvOptions& opt) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM
  Table t;
  t.source = source;
  std::size_t pos = 0, line = 1;
  std::vector<std::string> rec;
  while (next_record(text, pos, opt.delimiter, rec, line, source) && is_blank_record(rec)) {
  }
  if (rec.empty() || is_blank_record(rec)) throw DataError(source + ": empty file (no header row)");
  std::unordered_set<std::string> seen;
  for (auto& name : rec) {
    if (name.empty()) throw DataError(source + ": header has an empty column name");
    if (!seen.insert(name).second) throw DataError(source + ": duplicate column '" + name + "' in header");
  }
  const std::size_t ncol = rec.size();
  std::vector<std::vector<std::string>> raw(ncol);
  std::unordered_set<std::string> missing(opt.missing_values.begin(), opt.missing_values.end());
  std::vector<std::string> header = rec;
  std::size_t row = 0;
  while (true) {
    std::size_t rec_line = line;
    if (!next_record(text, pos, opt.delimiter, rec, line, source)) break;
    if (is_blank_record(rec)) continue;
    ++row;
    if (rec.size() != ncol)
      throw DataError(source + ": line " + std::to_string(rec_line) + " (data row " + std::to_string(row) +
                      ") has " + std::to_string(rec.size()) + " fields, the header has " +
                      std::to_string(ncol));
    for (std::size_t j = 0; j < ncol; ++j) raw[j].push_back(std::move(rec[j]));
  }
  t.columns.resize(ncol);
  for (std::size_t j = 0; j < ncol; ++j) {
    Column& c = t.columns[j];
    c.name = header[j];
    std::vector<double> nums(raw[j].size());
    bool numeric = true;
    for (std::size_t i = 0; i < raw[j].size() && numeric; ++i) {
      if (missing.count(raw[j][i])) {
        nums[i] = kMissing;
      } else if (!parse_double(raw[j][i], nums[i])) {
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

Table read_csv(const std::filesystem::path& path, const CsvOptions& opt) {
  if (!std::filesystem::exists(path)) throw DataError(path.string() + ": file not found");
  if (std::filesystem::is_directory(path))
    throw DataError(path.string() + ": is a directory, expected a CSV file");
  return parse_csv(read_file(path), path.string(), opt);
}

std::string format_number(double v) {
  if (std::isnan(v)) return "";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

namespace {
void append_field(std::string& out, std::string_view f) {
  if (f.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += f;
    return;
  }
  out += '"';
  for (char ch : f) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
}
}  // namespace

std::string to_csv(const Table& t) {
  std::string out;
  out.reserve(t.rows() * t.cols() * 3 + 256);
  for (std::size_t j = 0; j < t.cols(); ++j) {
    if (j) out += ',';
    append_field(out, t.columns[j].name);
  }
  out += '\n';
  for (std::size_t i = 0; i < t.rows(); ++i) {
    for (std::size_t j = 0; j < t.cols(); ++j) {
      if (j) out += ',';
      const Column& c = t.columns[j];
      if (c.type == ColumnType::Numeric)
        out += format_number(c.num[i]);
      else
        append_field(out, c.text[i]);
    }
    out += '\n';
  }
  return out;
}

void write_csv_atomic(const std::filesystem::path& path, const Table& t) {
  write_file_atomic(path, to_csv(t));
}

}  // namespace netsentry
