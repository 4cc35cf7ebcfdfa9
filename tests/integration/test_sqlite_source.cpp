// SQLite source and sink, and `netsentry load --to sqlite:...`, against real SQLite database files.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <fstream>

#include "netsentry/core/error.hpp"
#include "netsentry/ingest/source.hpp"
#include "netsentry/schema/schema.hpp"
#include "netsentry/table/csv.hpp"
#include "support/paths.hpp"
#include "support/table_equal.hpp"

using namespace netsentry;

namespace {

// Numbers, negative values, missing markers ("na", empty), quoted text with a comma.
const char* kSmallCsv =
    "having_IP_Address,URL_Length,ratio,note,Result\n"
    "-1,1,0.25,plain,1\n"
    "1,na,-0.5,\"with,comma\",-1\n"
    "0,-1,,na,1\n"
    "1,0,1e-3,x,-1\n"
    "-1,1,3.75,,1\n";

std::filesystem::path write_text(const test::TempDir& dir, const std::string& name, const std::string& text) {
  auto p = dir / name;
  std::ofstream(p) << text;
  return p;
}

std::string sqlite_uri(const std::filesystem::path& db, const std::string& table) {
  return "sqlite:" + db.string() + "?table=" + table;
}

std::size_t count_rows(const std::filesystem::path& db, const std::string& table) {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  std::string sql = "SELECT COUNT(*) FROM \"" + table + "\"";
  EXPECT_EQ(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
  std::size_t n = sqlite3_step(s) == SQLITE_ROW ? static_cast<std::size_t>(sqlite3_column_int64(s, 0)) : 0;
  sqlite3_finalize(s);
  sqlite3_close(h);
  return n;
}

void exec(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(h);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

Table read_back(const std::string& uri, const Schema* schema = nullptr) {
  SourceOptions opt;
  opt.schema = schema;
  return open_source(uri)->read(opt);
}

}  // namespace

TEST(SqliteSource, LoadCommandRoundTripsGeneratedCsv) {
  test::TempDir dir;
  auto csv = write_text(dir, "small.csv", kSmallCsv);
  auto db = dir / "data.db";
  auto r = test::run_cli("load --input " + test::shell_quote(csv) + " --to " +
                         test::shell_quote(sqlite_uri(db, "phish")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote 5 rows"), std::string::npos) << r.out;

  Table expected = open_source(csv.string())->read({});
  Table got = read_back(sqlite_uri(db, "phish"));
  EXPECT_TRUE(test::tables_equal(expected, got));
  EXPECT_EQ(got.at("note").type, ColumnType::Text);
  EXPECT_TRUE(std::isnan(got.at("URL_Length").num[1]));  // "na" -> missing -> NULL -> missing
  EXPECT_EQ(got.at("note").text[2], "");                 // "na" in a text column is missing too
  EXPECT_EQ(got.source, sqlite_uri(db, "phish"));
}

TEST(SqliteSource, AppendThenReplaceLeavesExactlyOneCopy) {
  test::TempDir dir;
  auto csv = write_text(dir, "small.csv", kSmallCsv);
  auto db = dir / "data.db";
  const std::string to = test::shell_quote(sqlite_uri(db, "t"));
  const std::string load = "load --input " + test::shell_quote(csv) + " --to " + to;

  auto first = test::run_cli(load);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto second = test::run_cli(load);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("appended"), std::string::npos) << second.out;
  EXPECT_EQ(count_rows(db, "t"), 10u);

  for (int i = 0; i < 2; ++i) {
    auto r = test::run_cli(load + " --replace --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("\"rows_written\":5"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"mode\":\"replace\""), std::string::npos) << r.out;
    EXPECT_EQ(count_rows(db, "t"), 5u);
  }
  EXPECT_TRUE(test::tables_equal(open_source(csv.string())->read({}), read_back(sqlite_uri(db, "t"))));
}

TEST(SqliteSource, RejectsBadTableNamesBeforeTouchingTheDatabase) {
  test::TempDir dir;
  auto db = dir / "x.db";
  for (std::string bad : {"t;DROP TABLE t", "1abc", "a b", "t\"x", "", "sqlite_master"}) {
    EXPECT_THROW(open_sink(sqlite_uri(db, bad)), UsageError) << bad;
    EXPECT_THROW(open_source(sqlite_uri(db, bad)), UsageError) << bad;
  }
  EXPECT_THROW(open_sink("sqlite:" + db.string()), UsageError);  // no table at all
  EXPECT_THROW(open_sink("sqlite:?table=t"), UsageError);        // no path
  EXPECT_THROW(open_sink(sqlite_uri(db, "t") + "&tabel=u"), UsageError);
  try {
    open_sink(sqlite_uri(db, "t;DROP TABLE t"));
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("invalid table name"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(db));

  auto csv = write_text(dir, "small.csv", kSmallCsv);
  auto r = test::run_cli("load --input " + test::shell_quote(csv) + " --to " +
                         test::shell_quote("sqlite:" + db.string() + "?table=x;DROP TABLE y"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("invalid table name"), std::string::npos) << r.err;
}

TEST(SqliteSource, TextInANumericSchemaFieldNamesRowAndField) {
  test::TempDir dir;
  auto db = dir / "bad.db";
  exec(db,
       "CREATE TABLE t (_id INTEGER, URL_Length TEXT, note TEXT);"
       "INSERT INTO t VALUES (1, '1', 'a'), (2, 'na', 'b'), (3, 'abc', 'c'), (4, '-1', 'd');");
  auto schema = Schema::from_yaml_text("columns:\n  - URL_Length: int64\n  - note: object\n", "test-schema");
  try {
    read_back(sqlite_uri(db, "t"), &schema);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("row 3"), std::string::npos) << m;
    EXPECT_NE(m.find("'URL_Length'"), std::string::npos) << m;
    EXPECT_NE(m.find("expected a number"), std::string::npos) << m;
    EXPECT_NE(m.find("'abc'"), std::string::npos) << m;
    EXPECT_NE(m.find(sqlite_uri(db, "t")), std::string::npos) << m;
  }
  // Without a schema the column is inferred as text; `_id` is dropped.
  Table t = read_back(sqlite_uri(db, "t"));
  EXPECT_FALSE(t.find("_id").has_value());
  EXPECT_EQ(t.at("URL_Length").type, ColumnType::Text);
  EXPECT_EQ(t.at("URL_Length").text[1], "");  // "na"
}

TEST(SqliteSource, SchemaTypesNumericTextAndTextNumbers) {
  test::TempDir dir;
  auto db = dir / "typed.db";
  exec(db,
       "CREATE TABLE t (a TEXT, b INTEGER, c REAL, d TEXT);"
       "INSERT INTO t VALUES (' 2 ', 7, 0.5, NULL), ('na', NULL, 1.5, 'q'), ('-3', 8, NULL, 'r');");
  auto schema = Schema::from_yaml_text("columns:\n  - a: int64\n  - b: object\n  - c: float64\n", "s");
  Table t = read_back(sqlite_uri(db, "t"), &schema);
  ASSERT_EQ(t.rows(), 3u);
  EXPECT_EQ(t.at("a").type, ColumnType::Numeric);
  EXPECT_DOUBLE_EQ(t.at("a").num[0], 2.0);
  EXPECT_TRUE(std::isnan(t.at("a").num[1]));
  EXPECT_EQ(t.at("b").type, ColumnType::Text);  // the schema says text: numbers kept as text
  EXPECT_EQ(t.at("b").text[0], "7");
  EXPECT_EQ(t.at("b").text[1], "");
  EXPECT_TRUE(std::isnan(t.at("c").num[2]));
  EXPECT_EQ(t.at("d").type, ColumnType::Text);  // not in the schema: inferred
}

TEST(SqliteSource, MissingDatabaseOrTableIsADataError) {
  test::TempDir dir;
  EXPECT_THROW(read_back(sqlite_uri(dir / "absent.db", "t")), DataError);
  EXPECT_FALSE(std::filesystem::exists(dir / "absent.db"));  // a source never creates the file
  auto db = dir / "empty.db";
  exec(db, "CREATE TABLE other (x REAL);");
  try {
    read_back(sqlite_uri(db, "t"));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no table 't'"), std::string::npos) << e.what();
  }
}

TEST(SqliteSource, AppendingToATableWithOtherColumnsIsRefusedAndRollsBack) {
  test::TempDir dir;
  auto db = dir / "d.db";
  exec(db, "CREATE TABLE t (a REAL); INSERT INTO t VALUES (1);");
  Table t = parse_csv("a,b\n1,2\n", "mem.csv");
  EXPECT_THROW(open_sink(sqlite_uri(db, "t"))->write(t, false), UsageError);
  EXPECT_EQ(count_rows(db, "t"), 1u);
  EXPECT_EQ(open_sink(sqlite_uri(db, "t"))->write(t, true), 1u);
  EXPECT_TRUE(test::tables_equal(t, read_back(sqlite_uri(db, "t"))));
}

TEST(SqliteSource, WritesManyRowsAcrossBatches) {
  // More rows than one INSERT statement holds, so full batches and a tail batch are both used.
  std::string csv = "x,y,z\n";
  for (int i = 0; i < 1234; ++i)
    csv += std::to_string(i) + "," + std::to_string(i * 0.5) + ",t" + std::to_string(i % 7) + "\n";
  Table t = parse_csv(csv, "gen.csv");
  test::TempDir dir;
  auto uri = sqlite_uri(dir / "many.db", "rows");
  EXPECT_EQ(open_sink(uri)->write(t, false), 1234u);
  EXPECT_TRUE(test::tables_equal(t, read_back(uri)));
}

TEST(SqliteSource, UciPhishingDataRoundTrips) {
  NETSENTRY_NEEDS_UCI();
  test::TempDir dir;
  auto uri = sqlite_uri(dir / "uci.db", "phishing");
  auto r = test::run_cli("load --json --input " + test::shell_quote(test::phishing_csv()) + " --to " +
                         test::shell_quote(uri) + " --replace");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"rows_written\":11055"), std::string::npos) << r.out;
  auto schema = Schema::load_yaml(test::source_dir() / "config" / "schema" / "phishing.yaml");
  EXPECT_TRUE(test::tables_equal(read_csv(test::phishing_csv()), read_back(uri, &schema)));
}
