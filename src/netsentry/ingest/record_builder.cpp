#include "netsentry/ingest/record_builder.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "netsentry/core/error.hpp"
#include "netsentry/core/text.hpp"
#include "netsentry/schema/schema.hpp"
#include "netsentry/table/number_text.hpp"

namespace netsentry {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

RecordBuilder::RecordBuilder(std::string source, const SourceOptions& opt,
                             std::function<std::string()> record_label)
    : source_(std::move(source)), opt_(opt), label_(std::move(record_label)) {}

void RecordBuilder::begin_record() {
  ++records_;
  next_ = 0;
}

void RecordBuilder::fail(std::string_view field, const std::string& what) const {
  throw DataError(source_ + ": " + label_() + ": field '" + std::string(field) + "': " + what);
}

bool RecordBuilder::is_missing(std::string_view v) const {
  return std::any_of(opt_.missing_values.begin(), opt_.missing_values.end(),
                     [&](const std::string& m) { return m == v; });
}

RecordBuilder::Pending* RecordBuilder::column(std::string_view field) {
  std::size_t i;
  if (next_ < cols_.size() && cols_[next_].name == field) {
    i = next_;
  } else if (auto it = index_.find(std::string(field)); it != index_.end()) {
    if (it->second == SIZE_MAX) return nullptr;  // dropped
    i = it->second;
  } else {
    std::string name(field);
    if (std::find(opt_.drop_columns.begin(), opt_.drop_columns.end(), name) != opt_.drop_columns.end()) {
      index_.emplace(std::move(name), SIZE_MAX);
      return nullptr;
    }
    Pending c;
    c.name = name;
    if (opt_.schema)
      for (auto& sc : opt_.schema->columns)
        if (sc.name == name) {
          c.want = sc.numeric() ? Want::Numeric : Want::Text;
          c.schema_type = sc.type;
          c.text = c.want == Want::Text;
        }
    i = cols_.size();
    cols_.push_back(std::move(c));
    index_.emplace(std::move(name), i);
  }
  next_ = i + 1;
  Pending& c = cols_[i];
  if (c.size() >= records_) fail(field, "appears twice in one record");
  pad(c, records_ - 1);
  return &c;
}

void RecordBuilder::pad(Pending& c, std::size_t n) {
  if (c.text)
    c.txt.resize(std::max(c.txt.size(), n));
  else
    c.num.resize(std::max(c.num.size(), n), kNaN);
}

void RecordBuilder::to_text(Pending& c) {
  c.txt.reserve(c.num.capacity());
  for (double v : c.num) c.txt.push_back(std::isnan(v) ? std::string{} : format_number(v));
  c.num = {};
  c.text = true;
}

void RecordBuilder::add_number(std::string_view field, double v) {
  Pending* c = column(field);
  if (!c) return;
  if (!std::isfinite(v)) {
    if (std::isnan(v)) return add_missing(field);
    if (c->want == Want::Numeric)
      fail(field, "expected a finite number (schema type " + c->schema_type + ")");
  }
  if (c->text)
    c->txt.push_back(format_number(v));
  else
    c->num.push_back(v);
}

void RecordBuilder::add_text(std::string_view field, std::string_view v) {
  Pending* c = column(field);
  if (!c) return;
  if (is_missing(v)) {
    if (c->text)
      c->txt.emplace_back();
    else
      c->num.push_back(kNaN);
    return;
  }
  if (c->text) {
    c->txt.emplace_back(v);
    return;
  }
  if (auto d = parse_number(v)) {
    c->num.push_back(*d);
    return;
  }
  if (c->want == Want::Numeric)
    fail(field, "expected a number (schema type " + c->schema_type + "), got text " + quote_value(v));
  to_text(*c);
  c->txt.emplace_back(v);
}

void RecordBuilder::add_missing(std::string_view field) {
  Pending* c = column(field);
  if (!c) return;
  if (c->text)
    c->txt.emplace_back();
  else
    c->num.push_back(kNaN);
}

Table RecordBuilder::finish() {
  Table t;
  t.source = source_;
  t.columns.reserve(cols_.size());
  for (auto& c : cols_) {
    pad(c, records_);
    Column col;
    col.name = std::move(c.name);
    if (c.text) {
      col.type = ColumnType::Text;
      col.text = std::move(c.txt);
    } else {
      col.type = ColumnType::Numeric;
      col.num = std::move(c.num);
    }
    t.columns.push_back(std::move(col));
  }
  cols_.clear();
  index_.clear();
  return t;
}

}  // namespace netsentry
