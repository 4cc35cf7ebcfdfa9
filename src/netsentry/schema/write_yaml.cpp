#include "netsentry/schema/write_yaml.hpp"

#include <algorithm>
#include <cctype>

#include "netsentry/table/number_text.hpp"

namespace netsentry {

namespace {

// A name or value as a YAML scalar that reads back as this text: plain when it is a word that YAML
// takes as a string, double-quoted otherwise (numbers, true/null/..., punctuation, spaces).
std::string scalar(const std::string& s) {
  static const char* const kSpecial[] = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"};
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  bool plain =
      !s.empty() && (std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_') &&
      std::all_of(
          s.begin(), s.end(),
          [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '/'; }) &&
      std::none_of(std::begin(kSpecial), std::end(kSpecial), [&](const char* w) { return lower == w; });
  if (plain) return s;
  std::string q = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      q += '\\';
      q += static_cast<char>(c);
    } else if (c < 0x20) {
      static const char* const kHex = "0123456789abcdef";
      q += "\\x";
      q += kHex[c >> 4];
      q += kHex[c & 15];
    } else {
      q += static_cast<char>(c);
    }
  }
  return q + "\"";
}

std::string number(double v) { return format_number(v == 0 ? 0.0 : v); }

void comment_lines(std::string& out, const std::string& text, const std::string& indent) {
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = text.find('\n', start);
    const auto line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    out += indent + (line.empty() ? "#" : "# " + line) + "\n";
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

void name_list(std::string& out, const char* key, const std::vector<std::string>& names) {
  out += key;
  if (names.empty()) {
    out += ": []\n";
    return;
  }
  out += ":\n";
  for (auto& n : names) out += "  - " + scalar(n) + "\n";
}

}  // namespace

std::string to_yaml(const Schema& s, const std::string& comment,
                    const std::map<std::string, std::string>& notes) {
  std::string out;
  if (!comment.empty()) comment_lines(out, comment, "");
  out += "columns:\n";
  for (auto& c : s.columns) out += "  - " + scalar(c.name) + ": " + scalar(c.type) + "\n";
  out += "\n";
  name_list(out, "numerical_columns", s.numerical_columns);
  out += "\n";
  name_list(out, "categorical_columns", s.categorical_columns);
  if (s.domains.empty()) return out;
  out += "\n";
  comment_lines(
      out,
      "Beyond the reference format (as TFDV's infer_schema): each column's domain, the values a\n"
      "categorical column takes, a numeric column's range, and the largest share of missing values.",
      "");
  out += "domains:\n";
  for (auto& c : s.columns) {
    const ColumnDomain* d = s.domain(c.name);
    if (!d) continue;
    out += "  " + scalar(c.name) + ":";
    const auto note = notes.find(c.name);
    if (!d->values && !d->min && !d->max && !d->missing_ratio && note == notes.end()) {
      out += " {}\n";
      continue;
    }
    out += "\n";
    if (note != notes.end()) comment_lines(out, note->second, "    ");
    if (d->values) {
      // A flow list, wrapped under the key when it is long.
      std::string line = "    values: [";
      bool first = true;
      for (auto& v : *d->values) {
        const std::string item = scalar(v) + ",";
        if (!first && line.size() + item.size() + 1 > 110) {
          out += line + "\n";
          line = "      ";
        } else if (!first) {
          line += " ";
        }
        line += item;
        first = false;
      }
      if (!first) line.pop_back();  // the last comma
      out += line + "]\n";
    }
    if (d->min) out += "    min: " + number(*d->min) + "\n";
    if (d->max) out += "    max: " + number(*d->max) + "\n";
    if (d->missing_ratio) out += "    missing_ratio: " + number(*d->missing_ratio) + "\n";
  }
  return out;
}

}  // namespace netsentry
