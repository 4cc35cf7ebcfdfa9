// MongoDB source and sink, and `netsentry load --to mongodb://...`. No MongoDB server can be installed
// on the test machines: these tests start support/mongo_wire_server (an in-memory server speaking the
// MongoDB wire protocol on loopback), and the real libmongoc client talks to it over TCP — in this
// process (the Mongo source) and from a child `netsentry load` process.
#include <bson/bson.h>
#include <gtest/gtest.h>
#include <mongoc/mongoc.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "netsentry/core/error.hpp"
#include "netsentry/ingest/source.hpp"
#include "netsentry/schema/schema.hpp"
#include "netsentry/table/csv.hpp"
#include "support/mongo_wire_server.hpp"
#include "support/paths.hpp"
#include "support/scoped_env.hpp"
#include "support/table_equal.hpp"

using namespace netsentry;

namespace {

const char* kSmallCsv =
    "having_IP_Address,URL_Length,ratio,note,Result\n"
    "-1,1,0.25,plain,1\n"
    "1,na,-0.5,\"with,comma\",-1\n"
    "0,-1,,na,1\n"
    "1,0,1e-3,x,-1\n"
    "-1,1,3.75,,1\n";

std::filesystem::path write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
  return p;
}

Table read_back(const std::string& uri, const Schema* schema = nullptr) {
  SourceOptions opt;
  opt.schema = schema;
  return open_source(uri)->read(opt);
}

std::string load_args(const std::filesystem::path& csv, const std::string& uri) {
  return "load --input " + test::shell_quote(csv) + " --to " + test::shell_quote(uri);
}

// Inserts documents given as relaxed extended JSON, straight through libmongoc.
void insert_json(const std::string& uri, const std::string& db, const std::string& coll,
                 const std::vector<std::string>& docs) {
  mongoc_init();
  std::string plain = uri.substr(0, uri.find('?'));
  mongoc_client_t* client = mongoc_client_new(plain.c_str());
  ASSERT_NE(client, nullptr);
  mongoc_collection_t* c = mongoc_client_get_collection(client, db.c_str(), coll.c_str());
  for (auto& json : docs) {
    bson_error_t err;
    bson_t* doc = bson_new_from_json(reinterpret_cast<const uint8_t*>(json.data()),
                                     static_cast<ssize_t>(json.size()), &err);
    ASSERT_NE(doc, nullptr) << err.message;
    bool ok = mongoc_collection_insert_one(c, doc, nullptr, nullptr, &err);
    bson_destroy(doc);
    EXPECT_TRUE(ok) << err.message;
  }
  mongoc_collection_destroy(c);
  mongoc_client_destroy(client);
}

using test::ScopedEnv;

}  // namespace

TEST(MongoSource, LoadCommandRoundTripsGeneratedCsvOverTheWire) {
  test::MongoWireServer server;
  test::TempDir dir;
  auto csv = write_text(dir / "small.csv", kSmallCsv);
  const std::string uri = server.uri("netsentry", "small");

  auto r = test::run_cli(load_args(csv, uri));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote 5 rows"), std::string::npos) << r.out;
  EXPECT_EQ(server.count("netsentry", "small"), 5u);

  Table got = read_back(uri);
  EXPECT_TRUE(test::tables_equal(open_source(csv.string())->read({}), got));
  EXPECT_FALSE(got.find("_id").has_value());  // the server added an _id to every document; dropped on read
  auto seen = server.commands();
  EXPECT_GE(seen["insert"], 1u);
  EXPECT_GE(seen["find"], 1u);
  EXPECT_GE(seen["hello"] + seen["ismaster"], 2u);  // one handshake per client (CLI process and this one)
  EXPECT_GE(server.connections_accepted(), 2u);
  auto ops = server.opcodes();
  EXPECT_GE(ops[2013], 4u);  // OP_MSG: insert, find, endSessions, ...
  EXPECT_EQ(server.open_cursors(), 0u);
}

TEST(MongoSource, UciDataThroughLoadAndBackInBatches) {
  NETSENTRY_NEEDS_UCI();
  test::MongoWireServer server;
  const std::string uri = server.uri("netsentry", "NetworkData");
  auto r = test::run_cli(load_args(test::phishing_csv(), uri) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["rows_written"], 11055);
  EXPECT_EQ(j["mode"], "append");
  EXPECT_EQ(server.count("netsentry", "NetworkData"), 11055u);
  EXPECT_GE(server.commands()["insert"], 12u);  // bulk inserts of 1000 documents
  EXPECT_GE(server.document_sequences(), 12u);  // each sent as an OP_MSG document sequence

  auto schema = Schema::load_yaml(test::source_dir() / "config" / "schema" / "phishing.yaml");
  Table got = read_back(uri, &schema);
  EXPECT_TRUE(test::tables_equal(read_csv(test::phishing_csv()), got));
  EXPECT_GE(server.commands()["getmore"], 11u);  // one cursor, streamed in batches of 1000
  EXPECT_EQ(server.open_cursors(), 0u);
}

TEST(MongoSource, ReplaceLeavesExactlyOneCopy) {
  test::MongoWireServer server;
  test::TempDir dir;
  auto csv = write_text(dir / "small.csv", kSmallCsv);
  const std::string uri = server.uri("db", "c");

  for (int i = 0; i < 2; ++i) {
    auto r = test::run_cli(load_args(csv, uri));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("appended"), std::string::npos) << r.out;
  }
  EXPECT_EQ(server.count("db", "c"), 10u);
  for (int i = 0; i < 2; ++i) {
    auto r = test::run_cli(load_args(csv, uri) + " --replace --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["rows_written"], 5);
    EXPECT_EQ(j["mode"], "replace");
    EXPECT_EQ(server.count("db", "c"), 5u);
  }
  EXPECT_TRUE(test::tables_equal(open_source(csv.string())->read({}), read_back(uri)));
  // --replace on a collection that does not exist yet (the server answers NamespaceNotFound to drop).
  auto r = test::run_cli(load_args(csv, server.uri("db", "fresh")) + " --replace");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.count("db", "fresh"), 5u);
}

TEST(MongoSource, TextInANumericSchemaFieldNamesDocumentAndField) {
  test::MongoWireServer server;
  const std::string uri = server.uri("db", "docs");
  insert_json(uri, "db", "docs",
              {R"({"_id": "row-1", "URL_Length": 1, "note": "a", "Result": {"$numberLong": "1"}})",
               R"({"_id": "row-2", "URL_Length": "na", "note": "b", "Result": -1.0})",
               R"({"_id": "row-3", "note": "c", "Result": "1"})",
               R"({"_id": "row-4", "URL_Length": "abc", "note": "d", "Result": 1})"});
  auto schema =
      Schema::from_yaml_text("columns:\n  - URL_Length: int64\n  - note: object\n  - Result: int64\n", "s");
  try {
    read_back(uri, &schema);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("document 4"), std::string::npos) << m;
    EXPECT_NE(m.find("row-4"), std::string::npos) << m;
    EXPECT_NE(m.find("'URL_Length'"), std::string::npos) << m;
    EXPECT_NE(m.find("expected a number"), std::string::npos) << m;
    EXPECT_NE(m.find("'abc'"), std::string::npos) << m;
  }
  // The first three documents are fine: "na" and an absent field are missing, "1" under int64 is 1.
  auto server2 = std::make_unique<test::MongoWireServer>();
  const std::string uri2 = server2->uri("db", "docs");
  insert_json(uri2, "db", "docs",
              {R"({"_id": "row-1", "URL_Length": 1, "note": "a", "Result": {"$numberLong": "1"}})",
               R"({"_id": "row-2", "URL_Length": "na", "note": "b", "Result": -1.0})",
               R"({"_id": "row-3", "note": "c", "Result": "1"})"});
  Table t = read_back(uri2, &schema);
  ASSERT_EQ(t.rows(), 3u);
  EXPECT_EQ(t.names(), (std::vector<std::string>{"URL_Length", "note", "Result"}));
  EXPECT_DOUBLE_EQ(t.at("URL_Length").num[0], 1.0);
  EXPECT_TRUE(std::isnan(t.at("URL_Length").num[1]));
  EXPECT_TRUE(std::isnan(t.at("URL_Length").num[2]));
  EXPECT_EQ(t.at("Result").num, (std::vector<double>{1.0, -1.0, 1.0}));
  EXPECT_EQ(t.at("note").type, ColumnType::Text);
  // Without a schema, a field mixing numbers and text is text.
  Table inferred = read_back(uri);
  EXPECT_EQ(inferred.at("URL_Length").type, ColumnType::Text);
  EXPECT_EQ(inferred.at("URL_Length").text[3], "abc");
  EXPECT_EQ(inferred.at("Result").type, ColumnType::Numeric);
}

TEST(MongoSource, UrlFromTheEnvironment) {
  test::MongoWireServer server;
  test::TempDir dir;
  auto csv = write_text(dir / "small.csv", kSmallCsv);
  {
    ScopedEnv env("MONGO_DB_URL", server.uri("envdb", "fromenv").c_str());
    EXPECT_EQ(open_sink("mongodb")->write(read_csv(csv), false), 5u);
    EXPECT_EQ(server.count("envdb", "fromenv"), 5u);
    EXPECT_EQ(read_back("mongodb:").rows(), 5u);
    // The collection (and database) may also be named in the short form.
    EXPECT_EQ(open_sink("mongodb:?collection=other&database=otherdb")->write(read_csv(csv), true), 5u);
    EXPECT_EQ(server.count("otherdb", "other"), 5u);
  }
  // In a child process, from the environment.
  auto r = test::run_command("cd " + test::shell_quote(dir.path()) +
                             " && MONGO_DB_URL=" + test::shell_quote(server.uri("envdb", "cli")) + " " +
                             test::shell_quote(test::cli_binary()) +
                             " load --input small.csv --to mongodb --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.count("envdb", "cli"), 5u);
}

TEST(MongoSource, UrlFromADotEnvFile) {
  test::MongoWireServer server;
  test::TempDir dir;
  write_text(dir / "small.csv", kSmallCsv);
  write_text(dir / ".env", "# settings\nOTHER=1\nMONGO_DB_URL=\"" + server.uri("dotenv", "c") + "\"\n");
  const std::string bin = test::shell_quote(test::cli_binary());
  auto r = test::run_command("cd " + test::shell_quote(dir.path()) + " && env -u MONGO_DB_URL " + bin +
                             " load --input small.csv --to mongodb: --replace");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.count("dotenv", "c"), 5u);

  // Neither the environment nor .env: a usage error that says where the URL is looked for.
  std::filesystem::remove(dir / ".env");
  r = test::run_command("cd " + test::shell_quote(dir.path()) + " && env -u MONGO_DB_URL " + bin +
                        " load --input small.csv --to mongodb:");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("MONGO_DB_URL"), std::string::npos) << r.err;
}

TEST(MongoSource, DescribeHidesCredentials) {
  auto src =
      open_source("mongodb://alice:s3cret@127.0.0.1:1/db?collection=c&tlsCertificateKeyFilePassword=pw");
  std::string d = src->describe();
  EXPECT_EQ(d.find("s3cret"), std::string::npos) << d;
  EXPECT_EQ(d.find("alice"), std::string::npos) << d;
  EXPECT_EQ(d.find("=pw"), std::string::npos) << d;
  EXPECT_NE(d.find("collection=c"), std::string::npos) << d;
}

// Passwords holding '/', '@', ':' or '?' never show: not in describe(), not in an error, not in the
// log (libmongoc splits "a:b@c@host" at its first '@' and quotes "c@host", lower-cased, as the host).
TEST(MongoSource, PasswordsWithSlashesOrAtSignsNeverShow) {
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  for (const std::string pw : {"Se/cr3tPw", "Se@cr3tPw", "Se:cr3t?Pw", "S3@cr3tPw@x"}) {
    SCOPED_TRACE(pw);
    const std::string rest = "@127.0.0.1:1/db?collection=c&serverSelectionTimeoutMS=300";
    const std::string uri = "mongodb://alice:" + pw + rest;
    EXPECT_EQ(redact_uri(uri), "mongodb://***" + rest);
    std::string message;
    try {
      auto src = open_source(uri);
      message = src->describe();
      src->read({});
      ADD_FAILURE() << "nothing listens on port 1";
    } catch (const std::exception& e) {
      message += std::string(" | ") + e.what();
    }
    std::string all = message + " | " + log.str();
    for (auto& ch : all) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_EQ(all.find("cr3t"), std::string::npos) << all;
    EXPECT_EQ(all.find("alice"), std::string::npos) << all;
    EXPECT_NE(all.find("127.0.0.1"), std::string::npos) << all;  // the host is still named
  }
  spdlog::set_default_logger(previous);
  // On the command line: exit 5 (unreachable), the password nowhere in what it prints.
  test::TempDir dir;
  const auto r =
      test::run_cli("train --data " +
                    test::shell_quote("mongodb://alice:Se@cr3tPw@127.0.0.1:1/db?collection=c&"
                                      "serverSelectionTimeoutMS=300") +
                    " --registry none --artifact-dir " + test::shell_quote((dir / "artifacts").string()) +
                    " --model-dir " + test::shell_quote((dir / "final_model").string()));
  EXPECT_EQ(r.exit_code, kExitUnreachable) << r.err;
  EXPECT_NE(r.err.find("cannot reach the MongoDB server"), std::string::npos) << r.err;
  std::string err = r.err + r.out;
  for (auto& ch : err) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_EQ(err.find("cr3t"), std::string::npos) << err;
}

TEST(MongoSource, BadUrisAreUsageErrors) {
  EXPECT_THROW(open_source("mongodb://127.0.0.1:1/db")->read({}), UsageError);             // no collection
  EXPECT_THROW(open_source("mongodb://127.0.0.1:1/?collection=c")->read({}), UsageError);  // no database
  EXPECT_THROW(open_source("mongodb://127.0.0.1:notaport/db?collection=c")->read({}), UsageError);
  EXPECT_THROW(open_source("mongodb:somewhere")->read({}), UsageError);
}

TEST(MongoSource, UnreachableServerIsAnError) {
  std::string uri;
  {
    test::MongoWireServer server;
    uri = "mongodb://127.0.0.1:" + std::to_string(server.port()) +
          "/db?collection=c&serverSelectionTimeoutMS=300";
  }  // stopped: nothing listens on the port any more
  EXPECT_THROW(read_back(uri), UnreachableError);
}

TEST(MongoSource, EmptyOrAbsentCollectionIsADataError) {
  test::MongoWireServer server;
  try {
    read_back(server.uri("db", "nothing_here"));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no documents"), std::string::npos) << e.what();
  }
}
