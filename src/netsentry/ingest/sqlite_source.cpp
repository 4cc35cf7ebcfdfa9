// SQLite source and sink: `sqlite:PATH?table=T`.
//   source: streams `SELECT * FROM "T"` row by row into a typed table (INTEGER/REAL numeric, TEXT parsed
//           by the shared typing rules, NULL missing, BLOB rejected).
//   sink:   one transaction: (with replace) DROP TABLE, CREATE TABLE IF NOT EXISTS with REAL/TEXT
//           columns, then multi-row INSERTs in batches; on any error the transaction rolls back.
// The table name must be an SQL identifier ([A-Za-z_][A-Za-z0-9_]*); every identifier is quoted.
#include <sqlite3.h>

#include <cmath>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "netsentry/core/error.hpp"
#include "netsentry/ingest/record_builder.hpp"
#include "netsentry/ingest/source.hpp"

namespace netsentry {

namespace {

struct SqliteTarget {
  std::string uri;  // as given, for messages
  std::string path;
  std::string table;
};

bool is_identifier(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!alpha(s[0])) return false;
  for (char c : s)
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  return true;
}

std::string quote_ident(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

SqliteTarget parse_sqlite_uri(const std::string& uri) {
  const std::string prefix = "sqlite:";
  if (uri.rfind(prefix, 0) != 0)
    throw UsageError("not an sqlite URI: '" + uri + "' (expected sqlite:PATH?table=T)");
  SqliteTarget t{uri, {}, {}};
  std::string rest = uri.substr(prefix.size());
  auto q = rest.find('?');
  t.path = rest.substr(0, q);
  if (t.path.empty()) throw UsageError("'" + uri + "': no database path (expected sqlite:PATH?table=T)");
  if (q != std::string::npos) {
    std::string query = rest.substr(q + 1);
    std::size_t pos = 0;
    while (pos <= query.size()) {
      auto amp = query.find('&', pos);
      std::string kv = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
      pos = amp == std::string::npos ? query.size() + 1 : amp + 1;
      if (kv.empty()) continue;
      auto eq = kv.find('=');
      std::string key = kv.substr(0, eq), value = eq == std::string::npos ? "" : kv.substr(eq + 1);
      if (key == "table")
        t.table = value;
      else
        throw UsageError("'" + uri + "': unknown parameter '" + key + "' (expected sqlite:PATH?table=T)");
    }
  }
  if (t.table.empty()) throw UsageError("'" + uri + "': no table given (expected sqlite:PATH?table=T)");
  if (!is_identifier(t.table))
    throw UsageError(
        "'" + uri + "': invalid table name '" + t.table +
        "' (expected letters, digits and '_', not starting with a digit, at most 128 characters)");
  if (t.table.rfind("sqlite_", 0) == 0)
    throw UsageError("'" + uri + "': table names starting with 'sqlite_' are reserved by SQLite");
  return t;
}

struct DbClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbClose>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

class Connection {
 public:
  Connection(const SqliteTarget& t, bool writable) : uri_(t.uri) {
    sqlite3* raw = nullptr;
    int flags = writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    int rc = sqlite3_open_v2(t.path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK)
      throw DataError(uri_ + ": cannot open database '" + t.path +
                      "': " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, 5000);
  }
  sqlite3* get() const { return db_.get(); }
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(uri_ + ": " + what + ": " + sqlite3_errmsg(db_.get()));
  }
  void exec(const std::string& sql) {
    if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
      fail("'" + sql + "' failed");
  }
  Stmt prepare(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      sqlite3_finalize(s);
      fail("cannot prepare '" + sql.substr(0, 200) + "'");
    }
    return Stmt(s);
  }
  bool table_exists(const std::string& table) {
    auto s = prepare("SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?1");
    sqlite3_bind_text(s.get(), 1, table.c_str(), -1, SQLITE_TRANSIENT);
    return sqlite3_step(s.get()) == SQLITE_ROW;
  }
  std::unordered_set<std::string> table_columns(const std::string& table) {
    std::unordered_set<std::string> cols;
    auto s = prepare("PRAGMA table_info(" + quote_ident(table) + ")");
    while (sqlite3_step(s.get()) == SQLITE_ROW)
      cols.insert(reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 1)));
    return cols;
  }

 private:
  std::string uri_;
  Db db_;
};

// Rolls the transaction back unless committed.
class Transaction {
 public:
  explicit Transaction(Connection& c) : c_(c) { c_.exec("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!done_) sqlite3_exec(c_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    c_.exec("COMMIT");
    done_ = true;
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  Connection& c_;
  bool done_ = false;
};

class SqliteSource final : public Source {
 public:
  explicit SqliteSource(const std::string& uri) : t_(parse_sqlite_uri(uri)) {}

  Table read(const SourceOptions& opt) override {
    Connection db(t_, false);
    if (!db.table_exists(t_.table)) throw DataError(t_.uri + ": no table '" + t_.table + "' in " + t_.path);
    auto stmt = db.prepare("SELECT * FROM " + quote_ident(t_.table));
    sqlite3_stmt* s = stmt.get();
    const int ncol = sqlite3_column_count(s);
    std::vector<std::string> names(static_cast<std::size_t>(ncol));
    for (int j = 0; j < ncol; ++j) names[static_cast<std::size_t>(j)] = sqlite3_column_name(s, j);
    std::size_t row = 0;
    RecordBuilder b(t_.uri, opt, [&row] { return "row " + std::to_string(row); });
    for (;;) {
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) db.fail("reading row " + std::to_string(row + 1));
      ++row;
      b.begin_record();
      for (int j = 0; j < ncol; ++j) {
        const std::string& name = names[static_cast<std::size_t>(j)];
        switch (sqlite3_column_type(s, j)) {
          case SQLITE_INTEGER:
            b.add_number(name, static_cast<double>(sqlite3_column_int64(s, j)));
            break;
          case SQLITE_FLOAT:
            b.add_number(name, sqlite3_column_double(s, j));
            break;
          case SQLITE_TEXT: {
            auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, j));
            b.add_text(name, std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s, j))));
            break;
          }
          case SQLITE_NULL:
            b.add_missing(name);
            break;
          default:
            b.fail(name, "expected a number or text, got a BLOB");
        }
      }
      b.end_record();
    }
    return b.finish();
  }

  std::string describe() const override { return t_.uri; }
  std::string name() const override { return t_.table; }

 private:
  SqliteTarget t_;
};

class SqliteSink final : public Sink {
 public:
  explicit SqliteSink(const std::string& uri) : t_(parse_sqlite_uri(uri)) {}

  std::size_t write(const Table& t, bool replace) override {
    if (t.cols() == 0) throw UsageError(t_.uri + ": the table to write has no columns");
    Connection db(t_, true);
    const int limit = sqlite3_limit(db.get(), SQLITE_LIMIT_VARIABLE_NUMBER, -1);
    const std::size_t ncol = t.cols();
    if (ncol > static_cast<std::size_t>(limit))
      throw UsageError(t_.uri + ": " + std::to_string(ncol) + " columns exceed SQLite's limit of " +
                       std::to_string(limit));
    const std::size_t batch =
        std::max<std::size_t>(1, std::min<std::size_t>(kBatchRows, static_cast<std::size_t>(limit) / ncol));

    Transaction tx(db);
    const std::string table = quote_ident(t_.table);
    if (replace) db.exec("DROP TABLE IF EXISTS " + table);
    if (db.table_exists(t_.table)) {
      auto have = db.table_columns(t_.table);
      for (auto& c : t.columns)
        if (!have.count(c.name))
          throw UsageError(t_.uri + ": cannot append: table '" + t_.table + "' has no column '" + c.name +
                           "' (use replace to recreate it)");
    } else {
      std::string ddl = "CREATE TABLE " + table + " (";
      for (std::size_t j = 0; j < ncol; ++j)
        ddl += (j ? ", " : "") + quote_ident(t.columns[j].name) +
               (t.columns[j].type == ColumnType::Numeric ? " REAL" : " TEXT");
      db.exec(ddl + ")");
    }

    std::string cols, one = "(";
    for (std::size_t j = 0; j < ncol; ++j) {
      cols += (j ? ", " : "") + quote_ident(t.columns[j].name);
      one += j ? ",?" : "?";
    }
    one += ")";
    auto insert_sql = [&](std::size_t rows) {
      std::string sql = "INSERT INTO " + table + " (" + cols + ") VALUES ";
      for (std::size_t i = 0; i < rows; ++i) sql += (i ? "," : "") + one;
      return sql;
    };

    const std::size_t n = t.rows();
    Stmt full, tail;
    for (std::size_t start = 0; start < n; start += batch) {
      const std::size_t rows = std::min(batch, n - start);
      Stmt& stmt = rows == batch ? full : tail;
      if (!stmt) stmt = db.prepare(insert_sql(rows));
      sqlite3_stmt* s = stmt.get();
      int p = 1;
      for (std::size_t i = start; i < start + rows; ++i)
        for (auto& c : t.columns) {
          if (c.type == ColumnType::Numeric) {
            double v = c.num[i];
            if (std::isnan(v))
              sqlite3_bind_null(s, p);
            else
              sqlite3_bind_double(s, p, v);
          } else {
            const std::string& v = c.text[i];
            if (v.empty())
              sqlite3_bind_null(s, p);
            else
              sqlite3_bind_text(s, p, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
          }
          ++p;
        }
      if (sqlite3_step(s) != SQLITE_DONE)
        db.fail("inserting rows " + std::to_string(start + 1) + "-" + std::to_string(start + rows));
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    }
    full.reset();
    tail.reset();
    tx.commit();
    return n;
  }

  std::string describe() const override { return t_.uri; }

 private:
  static constexpr std::size_t kBatchRows = 500;
  SqliteTarget t_;
};

}  // namespace

NETSENTRY_REGISTER_SOURCE(sqlite, "sqlite",
                          [](const std::string& uri) { return std::make_unique<SqliteSource>(uri); });
NETSENTRY_REGISTER_SINK(sqlite, "sqlite",
                        [](const std::string& uri) { return std::make_unique<SqliteSink>(uri); });

}  // namespace netsentry
