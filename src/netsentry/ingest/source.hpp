#pragma once
// Data sources and sinks, chosen by URI scheme:
//   path/to/file.csv (no scheme, or file:)  -> CSV
//   sqlite:PATH?table=T                     -> SQLite table
//   mongodb://host/DB?collection=C          -> MongoDB collection (libmongoc)
// A source registers itself with NETSENTRY_REGISTER_SOURCE; adding one never edits this file.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "netsentry/table/table.hpp"

namespace netsentry {

struct Schema;

struct SourceOptions {
  std::vector<std::string> missing_values = {"", "na", "NaN", "nan", "NA"};
  std::vector<std::string> drop_columns = {"_id"};
  const Schema* schema = nullptr;  // when set, a source may use it to type fields (errors name row/field)
  // CSV: false when the file has no header row; its columns are then `names`, or else the schema's
  // columns in schema order (data.header).
  bool header = true;
  std::vector<std::string> names = {};
  std::uintmax_t max_file_bytes = 8ull << 30;  // CSV: larger files are refused (data.max_file_bytes)
};

class Source {
 public:
  virtual ~Source() = default;
  // Reads every record into a typed table. Throws DataError (naming record and field) on bad data,
  // UsageError on a bad URI, std::runtime_error on connection failures.
  virtual Table read(const SourceOptions& opt) = 0;
  virtual std::string describe() const = 0;  // the URI without secrets, for logs and metadata
  // What the data is called, for file names: the CSV file's stem, the table, the collection.
  virtual std::string name() const = 0;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Writes every row of `t`; with `replace`, the destination holds exactly these rows afterwards.
  // Returns the number of rows written.
  virtual std::size_t write(const Table& t, bool replace) = 0;
  virtual std::string describe() const = 0;
};

using SourceFactory = std::function<std::unique_ptr<Source>(const std::string& uri)>;
using SinkFactory = std::function<std::unique_ptr<Sink>(const std::string& uri)>;

// scheme: "csv", "sqlite", "mongodb", ... (the part of the URI before ':'; "csv" for plain paths)
void register_source(const std::string& scheme, SourceFactory f);
void register_sink(const std::string& scheme, SinkFactory f);
std::string uri_scheme(const std::string& uri);
std::unique_ptr<Source> open_source(const std::string& uri);  // UsageError for an unknown scheme
std::unique_ptr<Sink> open_sink(const std::string& uri);
// Drops `_id`-like columns and applies missing-value markers to text columns; shared by sources.
void apply_source_options(Table& t, const SourceOptions& opt);
// Removes credentials from a URI ("mongodb://user:pass@h/db" -> "mongodb://***@h/db").
std::string redact_uri(const std::string& uri);
// The secrets of a URI's user info (all of it, and each ':'/'@'-separated piece of 3 characters or
// more), longest first, and `text` with every occurrence of them replaced by "***": for messages a
// library wrote from a URI it may have parsed differently (libmongoc splits "a:b@c@host" at the first
// '@' and names "c@host" as the host).
std::vector<std::string> uri_secrets(const std::string& uri);
std::string scrub_secrets(std::string text, const std::vector<std::string>& secrets);

struct SourceRegistrar {
  SourceRegistrar(const std::string& scheme, SourceFactory f) { register_source(scheme, std::move(f)); }
};
struct SinkRegistrar {
  SinkRegistrar(const std::string& scheme, SinkFactory f) { register_sink(scheme, std::move(f)); }
};

}  // namespace netsentry

#define NETSENTRY_REGISTER_SOURCE(id, scheme, factory) \
  static ::netsentry::SourceRegistrar netsentry_source_##id(scheme, factory)
#define NETSENTRY_REGISTER_SINK(id, scheme, factory) \
  static ::netsentry::SinkRegistrar netsentry_sink_##id(scheme, factory)
