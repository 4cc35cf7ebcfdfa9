#include "netsentry/serve/answer_write.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "netsentry/table/csv.hpp"
#include "netsentry/table/text_writer.hpp"

namespace netsentry::serve {

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

void append_predictions_json(std::string& out, const LoadedModel& m, const Matrix& X, const Scores& s,
                             int top_k, std::string_view note, const UnseenCategories* unseen) {
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
  if (unseen && unseen->total) {
    out += ",\"unseen_categories\":{";
    bool first = true;
    for (const auto& [f, k] : unseen->per_feature) {
      if (!first) out += ',';
      first = false;
      append_json_string(out, f);
      out += ':';
      out += std::to_string(k);
    }
    out += '}';
  }
  out += ",\"predictions\":[";
  thread_local std::vector<std::size_t> idx;
  for (std::size_t r = 0; r < n; ++r) {
    const auto cls = static_cast<std::size_t>(s.scored.label[r]);
    if (r) out += ',';
    out += "{\"row\":";
    out += std::to_string(r);
    out += ",\"class\":";
    out += std::to_string(cls);
    out += ",\"label\":";
    append_json_string(out, m.class_value[cls]);
    out += ",\"verdict\":";
    append_json_string(out, m.verdict[cls]);
    out += ",\"probability\":";
    append_number(out, s.scored.probability[r]);
    out += ",\"probabilities\":{";
    for (std::size_t k = 0; k < m.class_value.size(); ++k) {
      if (k) out += ',';
      append_json_string(out, m.class_value[k]);
      out += ':';
      append_number(out, s.scored.class_probability(r, k));
    }
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
        if (m.categorical[c]) {  // the category ("service": "http"); null when missing or unseen
          const std::string name = m.bundle.encoder().value_name(c, X(r, c));
          if (name.empty())
            out += "null";
          else
            append_json_string(out, name);
        } else {
          append_number(out, X(r, c));
        }
        out += ",\"contribution\":";
        append_number(out, v);
        out += ",\"towards\":";
        if (m.verdict.size() == 2)
          append_json_string(out, m.verdict[(v > 0) == m.threat[1] ? 1 : 0]);  // > 0: towards the threat
        else  // K classes: towards the row's verdict class, or away from it
          append_json_string(out, v > 0 ? m.verdict[cls] : "not " + m.verdict[cls]);
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
  TextWriter out(
      256 + (n + 1) * (input.cols() * 4 + 40 + (s.contributions ? 48 * static_cast<std::size_t>(top_k) : 0)));
  bool first = true;
  for (const auto& c : input.columns) {
    if (!first) out.put(',');
    first = false;
    write_csv_download_field(out, c.name);
  }
  for (std::size_t k = 0; k < added; ++k) {
    if (!first) out.put(',');
    first = false;
    write_csv_download_field(out, names[k]);
  }
  out.put('\n');
  std::vector<std::size_t> idx;
  std::string txt;
  for (std::size_t r = 0; r < n; ++r) {
    for (const auto& c : input.columns) {
      if (c.type == ColumnType::Numeric) {
        out.number_between("", c.num[r], ",");
      } else {
        write_csv_download_field(out, c.text[r]);  // a spreadsheet may open the download
        out.put(',');
      }
    }
    const auto cls = static_cast<std::size_t>(s.scored.label[r]);
    write_csv_download_field(out, m.class_value[cls]);
    out.put(',');
    write_csv_download_field(out, m.verdict[cls]);
    out.put(',');
    out.number(std::round(s.scored.probability[r] * 1e6) / 1e6);
    if (s.contributions) {
      top_reasons(*s.contributions, r, nf, top_k, idx);
      txt.clear();
      for (std::size_t k = 0; k < idx.size(); ++k) {
        if (k) txt += "; ";
        txt += m.features[idx[k]];
        txt += '=';
        if (m.categorical[idx[k]])
          txt += m.bundle.encoder().value_name(idx[k], X(r, idx[k]));
        else
          append_number(txt, X(r, idx[k]));
        txt += " (";
        const double c = (*s.contributions)(r, idx[k]);
        if (c > 0) txt += '+';
        append_number(txt, c);
        txt += ')';
      }
      out.put(',');
      write_csv_download_field(out, txt);
    }
    out.put('\n');
  }
  return out.finish();
}

namespace {

// Appends s with the characters HTML gives a meaning escaped (&, <, >, both quotes); the runs between
// them in one copy each.
void append_html(TextWriter& out, std::string_view s) {
  static constexpr std::string_view kSpecial = "&<>\"'";
  static constexpr std::string_view kEntity[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
  for (std::size_t i = 0;;) {
    const std::size_t j = s.find_first_of(kSpecial, i);
    out.put(s.substr(i, j == std::string_view::npos ? j : j - i));
    if (j == std::string_view::npos) return;
    out.put(kEntity[kSpecial.find(s[j])]);
    i = j + 1;
  }
}

}  // namespace

std::string html_escape(std::string_view s) {
  TextWriter o(s.size());
  append_html(o, s);
  return o.finish();
}

std::string predictions_html(const Table& input, const Scores& s) {
  const std::size_t n = input.rows();
  TextWriter o(512 + input.cols() * 48 + n * (48 + (input.cols() + 1) * 20));
  o.put("<!DOCTYPE html><html><head><title>Predictions</title></head><body>");
  o.put(
      "<table border=\"1\" class=\"dataframe table table-striped\">\n  <thead>\n    <tr style=\"text-align: "
      "right;\">\n"
      "      <th></th>\n");
  for (const auto& c : input.columns) {
    o.put("      <th>");
    append_html(o, c.name);
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
        append_html(o, c.text[r]);
        o.put("</td>\n");
      }
    }
    o.put("      <td>");  // the class index, as the reference app's predicted_column
    o.put_count(static_cast<std::size_t>(s.scored.label[r]));
    o.put("</td>\n    </tr>\n");
  }
  o.put("  </tbody>\n</table></body></html>");
  return o.finish();
}

}  // namespace netsentry::serve
