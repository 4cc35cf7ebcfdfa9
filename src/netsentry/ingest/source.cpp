#include "netsentry/ingest/source.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <unordered_set>

#include "netsentry/core/error.hpp"
#include "netsentry/schema/schema.hpp"
#include "netsentry/table/csv.hpp"

namespace netsentry {

namespace {
std::map<std::string, SourceFactory>& sources() {
  static std::map<std::string, SourceFactory> m;
  return m;
}
std::map<std::string, SinkFactory>& sinks() {
  static std::map<std::string, SinkFactory> m;
  return m;
}
std::string known(const auto& m) {
  std::string s;
  for (auto& [k, _] : m) s += (s.empty() ? "" : ", ") + k;
  return s;
}
}  // namespace

void register_source(const std::string& scheme, SourceFactory f) { sources()[scheme] = std::move(f); }
void register_sink(const std::string& scheme, SinkFactory f) { sinks()[scheme] = std::move(f); }

std::string uri_scheme(const std::string& uri) {
  if (uri == "mongodb")
    return "mongodb";  // bare scheme: the URL comes from MONGO_DB_URL (see mongo_source.cpp)
  auto colon = uri.find(':');
  if (colon == std::string::npos || colon < 2) return "csv";  // plain path (or a Windows drive letter)
  std::string s = uri.substr(0, colon);
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+') return "csv";
  return s == "file" ? "csv" : s;
}

std::unique_ptr<Source> open_source(const std::string& uri) {
  auto s = uri_scheme(uri);
  auto it = sources().find(s);
  if (it == sources().end())
    throw UsageError("unknown data source scheme '" + s + "' in '" + redact_uri(uri) +
                     "' (known: " + known(sources()) + ")");
  return it->second(uri);
}

std::unique_ptr<Sink> open_sink(const std::string& uri) {
  auto s = uri_scheme(uri);
  auto it = sinks().find(s);
  if (it == sinks().end())
    throw UsageError("unknown destination scheme '" + s + "' in '" + redact_uri(uri) +
                     "' (known: " + known(sinks()) + ")");
  return it->second(uri);
}

void apply_source_options(Table& t, const SourceOptions& opt) {
  for (auto& d : opt.drop_columns) t.drop(d);
  std::unordered_set<std::string> missing(opt.missing_values.begin(), opt.missing_values.end());
  for (auto& c : t.columns)
    if (c.type == ColumnType::Text)
      for (auto& v : c.text)
        if (missing.count(v)) v.clear();
}

std::string redact_uri(const std::string& uri) {
  const auto s = uri.find("://");
  if (s == std::string::npos) return uri;
  // By position, not by parsing: a password may hold '/', ':', '?' or '@', so the user info runs to
  // the last '@' of the URI (an '@' in the options hides the hosts too, never the other way round).
  const auto at = uri.rfind('@');
  if (at == std::string::npos || at < s + 3) return uri;
  return uri.substr(0, s + 3) + "***" + uri.substr(at);
}

std::vector<std::string> uri_secrets(const std::string& uri) {
  const auto s = uri.find("://");
  const auto at = uri.rfind('@');
  if (s == std::string::npos || at == std::string::npos || at < s + 3) return {};
  const std::string info = uri.substr(s + 3, at - s - 3);
  std::vector<std::string> out{info};
  std::size_t from = 0;
  while (from <= info.size()) {
    const auto cut = info.find_first_of(":@", from);
    const std::string piece = info.substr(from, cut == std::string::npos ? std::string::npos : cut - from);
    if (piece.size() >= 3) out.push_back(piece);
    if (cut == std::string::npos) break;
    from = cut + 1;
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return out;
}

std::string scrub_secrets(std::string text, const std::vector<std::string>& secrets) {
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  // Case-insensitively: libraries lower-case what they took for a host name.
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    const std::string s = lower(secret);
    std::string low = lower(text);
    for (auto p = low.find(s); p != std::string::npos; p = low.find(s, p + 3)) {
      text.replace(p, s.size(), "***");
      low.replace(p, s.size(), "***");
    }
  }
  return text;
}

// ---- CSV, the default source ----
namespace {
class CsvSource final : public Source {
 public:
  explicit CsvSource(std::string uri) : path_(uri.rfind("file:", 0) == 0 ? uri.substr(5) : uri) {}
  Table read(const SourceOptions& opt) override {
    CsvOptions co;
    co.missing_values = opt.missing_values;
    co.header = opt.header;
    co.max_bytes = opt.max_file_bytes;
    if (!opt.header) {
      if (!opt.names.empty()) {
        co.names = opt.names;
      } else if (opt.schema) {
        co.names = opt.schema->names();
        co.names_from = "the schema";
      } else {
        throw UsageError(path_ + ": data.header is false, but there is no schema to name the columns");
      }
    }
    Table t = read_csv(path_, co);
    apply_source_options(t, opt);
    return t;
  }
  std::string describe() const override { return path_; }
  std::string name() const override { return std::filesystem::path(path_).stem().string(); }

 private:
  std::string path_;
};

class CsvSink final : public Sink {
 public:
  explicit CsvSink(std::string uri) : path_(uri.rfind("file:", 0) == 0 ? uri.substr(5) : uri) {}
  std::size_t write(const Table& t, bool) override {
    write_csv_atomic(path_, t);
    return t.rows();
  }
  std::string describe() const override { return path_; }

 private:
  std::string path_;
};
}  // namespace

NETSENTRY_REGISTER_SOURCE(csv, "csv",
                          [](const std::string& uri) { return std::make_unique<CsvSource>(uri); });
NETSENTRY_REGISTER_SINK(csv, "csv", [](const std::string& uri) { return std::make_unique<CsvSink>(uri); });

}  // namespace netsentry
