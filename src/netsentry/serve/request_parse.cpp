#include "netsentry/serve/request_parse.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "netsentry/core/error.hpp"
#include "netsentry/core/text.hpp"
#include "netsentry/table/csv.hpp"
#include "netsentry/table/number_text.hpp"

namespace netsentry::serve {

namespace {

bool is_missing_token(std::string_view s, const InputRules& rules) {
  for (const auto& t : rules.missing_values)
    if (s == t) return true;
  return false;
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
  return parse_number(s);
}

bool ignored(const std::string& name, const InputRules& rules) {
  return std::find(rules.ignored_columns.begin(), rules.ignored_columns.end(), name) !=
         rules.ignored_columns.end();
}

// A column a CSV answer adds (label, verdict, probability, reasons, or one of them prefixed
// "predicted_" where the upload had the name): a scored file reads back as an upload, its answer
// columns passed through.
bool answer_column(std::string_view name) {
  while (name.rfind("predicted_", 0) == 0) name.remove_prefix(10);
  return name == "label" || name == "verdict" || name == "probability" || name == "reasons";
}

void check_rows(std::size_t n, const InputRules& rules) {
  if (n == 0) throw RequestError(400, "no records to score");
  if (n > rules.max_rows)
    throw RequestError(413, std::to_string(n) + " records in one request; the limit is serve.max_rows = " +
                                std::to_string(rules.max_rows));
}

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
    if (const std::size_t c = feature_here(); c < nf_ && m_.categorical[c]) {
      const auto t = trim(s);
      coded_ = true;
      return value(t.empty() || is_missing_token(t, rules_) ? kMissing : code(c, t), "a string");
    }
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
    // Twice in one record: which value counts would be a guess (JSON parsers differ).
    if (seen_[col_])
      throw RequestError(400, "record " + std::to_string(r) + ": column '" + k + "' appears twice", k, r);
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
                                  " records in one request; the limit is serve.max_rows = " +
                                  std::to_string(rules_.max_rows));
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

  // The feature the next value belongs to (nf_ or more: none).
  std::size_t feature_here() const {
    if (depth_ == 3 && (top_key_ == TopKey::Records || top_key_ == TopKey::Rows)) return col_;
    return SIZE_MAX;
  }
  // A category's code (NaN, counted, when the model never saw it).
  double code(std::size_t c, std::string_view text) {
    const double k = m_.bundle.encoder().code(c, text);
    if (std::isnan(k)) {
      ++out_.unseen.per_feature[m_.features[c]];
      ++out_.unseen.total;
    }
    return k;
  }

  // A scalar: a feature value inside a record or a row, or a value where none belongs.
  bool value(double v, const char* shown) {
    // A number for a categorical feature is the category the data spells that way ("6": a code).
    if (const std::size_t c = feature_here();
        c < nf_ && m_.categorical[c] && !coded_ && !std::isnan(v) && std::isfinite(v))
      v = code(c, format_number(v));
    coded_ = false;
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
    return value_error(shown ? shown : "a number");
  }

  // A value that is not a feature value: where a record, a row or the collection belongs, it says
  // which is expected (whatever the value; a string is never quoted there).
  bool value_error(const std::string& shown) {
    if (depth_ == 2 && top_key_ == TopKey::Records)
      throw RequestError(400, "record " + std::to_string(rows_) + " is not an object", std::nullopt, rows_);
    if (depth_ == 2 && top_key_ == TopKey::Rows)
      throw RequestError(400,
                         "row " + std::to_string(rows_) + ": expected an array of " + std::to_string(nf_) +
                             " values in feature order (see GET /api/v1/model), got " +
                             (!shown.empty() && shown.front() == '"' ? std::string("a string") : shown),
                         std::nullopt, rows_);
    if (depth_ == 1 && (top_key_ == TopKey::Records || top_key_ == TopKey::Rows))
      throw RequestError(400, top_key_ == TopKey::Records ? "\"records\" must be an array of objects"
                                                          : "\"rows\" must be an array of arrays");
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
  bool coded_ = false;  // the value being stored is already a category code
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
      throw RequestError(
          413, std::to_string(nonblank - 1) +
                   " rows in one request; the limit is serve.max_rows = " + std::to_string(rules.max_rows));
  }
  CsvRequest req;
  CsvOptions opt;
  opt.missing_values = rules.missing_values;
  if (auto fast = parse_numeric_csv(text, "upload", opt)) {
    req.table = std::move(*fast);
  } else {
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
      if (c.name == m.target || ignored(c.name, rules) || answer_column(c.name)) continue;
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
    if (m.categorical[i]) {  // categories: text, or numbers as the data spells them
      std::size_t unseen = 0;
      for (std::size_t r = 0; r < n; ++r) {
        const std::string text = c.type == ColumnType::Numeric ? c.text_at(r) : std::string(trim(c.text[r]));
        const bool missing = text.empty() || is_missing_token(text, rules);
        req.X(r, i) = missing ? kMissing : m.bundle.encoder().code(i, text);
        unseen += !missing && std::isnan(req.X(r, i));
      }
      if (unseen) {
        req.unseen.per_feature[c.name] += unseen;
        req.unseen.total += unseen;
      }
      continue;
    }
    if (c.type == ColumnType::Numeric) {
      for (std::size_t r = 0; r < n; ++r) req.X(r, i) = c.num[r];
    } else {
      for (std::size_t r = 0; r < n; ++r) {
        auto v = number_from_text(c.text[r], rules);
        if (!v) {
          throw RequestError(400,
                             "row " + std::to_string(r) + " (line " + std::to_string(r + 2) + "), column '" +
                                 c.name + "': expected a number, got " + quote_value(c.text[r]),
                             c.name, r);
        }
        req.X(r, i) = *v;
      }
    }
  }
  return req;
}

}  // namespace netsentry::serve
