#pragma once
// Builds a typed Table from records streamed one field at a time (SQLite rows, MongoDB documents),
// so a source reads each record once and never holds a second copy of the data.
//
// Typing rules, shared by every record-oriented source:
//   - fields named in SourceOptions::drop_columns (e.g. `_id`) are skipped;
//   - a text value equal to one of SourceOptions::missing_values ("na", "", ...) is missing, as is a
//     field absent from a record;
//   - with a schema, a field the schema calls numeric must hold a number or a numeric string, else
//     DataError naming the source, the record and the field; a field the schema calls text keeps its
//     values as text (numbers written the shortest round-trip way);
//   - without a schema (or for a field the schema does not list), a column is numeric when every value
//     is numeric or missing, and text otherwise.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "netsentry/ingest/source.hpp"
#include "netsentry/table/table.hpp"

namespace netsentry {

class RecordBuilder {
 public:
  // `source` names the input in errors ("sqlite:db?table=t"); `record_label` describes the current
  // record for an error message ("row 12", "document 3 (_id 65f0...)") and is only called on error.
  RecordBuilder(std::string source, const SourceOptions& opt, std::function<std::string()> record_label);

  void begin_record();
  void add_number(std::string_view field, double v);
  void add_text(std::string_view field, std::string_view v);
  void add_missing(std::string_view field);
  void end_record() {}

  std::size_t records() const { return records_; }
  // The table, with every column padded to the number of records.
  Table finish();

  // Throws DataError "<source>: <record>: field '<field>': <what>".
  [[noreturn]] void fail(std::string_view field, const std::string& what) const;

 private:
  enum class Want { Infer, Numeric, Text };
  struct Pending {
    std::string name;
    Want want = Want::Infer;
    std::string schema_type;
    bool text = false;  // currently stored as text
    std::vector<double> num;
    std::vector<std::string> txt;
    std::size_t size() const { return text ? txt.size() : num.size(); }
  };

  Pending* column(std::string_view field);  // nullptr when the field is dropped
  void pad(Pending& c, std::size_t n);
  void to_text(Pending& c);
  bool is_missing(std::string_view v) const;

  std::string source_;
  const SourceOptions& opt_;
  std::function<std::string()> label_;
  std::vector<Pending> cols_;
  std::unordered_map<std::string, std::size_t> index_;
  std::size_t next_ = 0;  // column expected next (records usually repeat the same field order)
  std::size_t records_ = 0;
};

}  // namespace netsentry
