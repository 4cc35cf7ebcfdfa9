// The MongoDB wire-protocol test server itself, driven by the real libmongoc client over TCP: the
// Mongo source/sink tests are only as good as this stand-in, so its answers are checked here.
#include <bson/bson.h>
#include <gtest/gtest.h>
#include <mongoc/mongoc.h>

#include <memory>
#include <string>

#include "support/mongo_wire_server.hpp"

namespace {

struct ClientDeleter {
  void operator()(mongoc_client_t* c) const { mongoc_client_destroy(c); }
};
struct CollectionDeleter {
  void operator()(mongoc_collection_t* c) const { mongoc_collection_destroy(c); }
};

class WireServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mongoc_init();
    std::string uri =
        "mongodb://127.0.0.1:" + std::to_string(server_.port()) + "/?serverSelectionTimeoutMS=3000";
    client_.reset(mongoc_client_new(uri.c_str()));
    ASSERT_TRUE(client_);
    coll_.reset(mongoc_client_get_collection(client_.get(), "db", "c"));
  }

  // Runs a command on `db`; returns ok, fills `code` with the server's error code.
  bool command(const char* json, uint32_t* code = nullptr, std::string* reply_json = nullptr) {
    bson_error_t err;
    bson_t* cmd = bson_new_from_json(reinterpret_cast<const uint8_t*>(json), -1, &err);
    EXPECT_NE(cmd, nullptr) << err.message;
    bson_t reply;
    bool ok = mongoc_client_command_simple(client_.get(), "db", cmd, nullptr, &reply, &err);
    if (code) *code = ok ? 0 : err.code;
    if (reply_json) {
      char* s = bson_as_relaxed_extended_json(&reply, nullptr);
      *reply_json = s;
      bson_free(s);
    }
    bson_destroy(&reply);
    bson_destroy(cmd);
    return ok;
  }

  void insert_n(int n) {
    for (int i = 0; i < n; ++i) {
      bson_t* doc = BCON_NEW("i", BCON_INT32(i));
      bson_error_t err;
      EXPECT_TRUE(mongoc_collection_insert_one(coll_.get(), doc, nullptr, nullptr, &err)) << err.message;
      bson_destroy(doc);
    }
  }

  netsentry::test::MongoWireServer server_;
  std::unique_ptr<mongoc_client_t, ClientDeleter> client_;
  std::unique_ptr<mongoc_collection_t, CollectionDeleter> coll_;
};

TEST_F(WireServerTest, AnswersPingBuildInfoAndUnknownCommandsLikeAServer) {
  EXPECT_TRUE(command(R"({"ping": 1})"));
  std::string reply;
  EXPECT_TRUE(command(R"({"buildInfo": 1})", nullptr, &reply));
  EXPECT_NE(reply.find("\"version\""), std::string::npos) << reply;
  uint32_t code = 0;
  EXPECT_FALSE(command(R"({"frobnicate": 1})", &code));
  EXPECT_EQ(code, 59u);  // CommandNotFound
  EXPECT_GE(server_.commands()["ismaster"] + server_.commands()["hello"], 1u);
}

TEST_F(WireServerTest, FindStreamsWithGetMoreAndKillCursorsFreesAnAbandonedCursor) {
  insert_n(25);
  std::string reply;
  EXPECT_TRUE(command(R"({"count": "c"})", nullptr, &reply));
  EXPECT_NE(reply.find("\"n\" : 25"), std::string::npos) << reply;

  bson_t filter = BSON_INITIALIZER;
  bson_t* opts = BCON_NEW("batchSize", BCON_INT32(4));
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(coll_.get(), &filter, opts, nullptr);
  const bson_t* doc;
  int seen = 0;
  while (mongoc_cursor_next(cursor, &doc)) {
    bson_iter_t it;
    ASSERT_TRUE(bson_iter_init_find(&it, doc, "i"));
    EXPECT_EQ(bson_iter_int32(&it), seen);  // insertion order
    ASSERT_TRUE(bson_iter_init_find(&it, doc, "_id"));
    ++seen;
  }
  EXPECT_FALSE(mongoc_cursor_error(cursor, nullptr));
  mongoc_cursor_destroy(cursor);
  EXPECT_EQ(seen, 25);
  EXPECT_EQ(server_.commands()["getmore"], 6u);  // 4 in the first batch, then 6 batches of 4 (last 1)

  // Abandon a cursor after its first batch: the client kills it on the server.
  cursor = mongoc_collection_find_with_opts(coll_.get(), &filter, opts, nullptr);
  ASSERT_TRUE(mongoc_cursor_next(cursor, &doc));
  EXPECT_EQ(server_.open_cursors(), 1u);
  mongoc_cursor_destroy(cursor);
  EXPECT_EQ(server_.commands()["killcursors"], 1u);
  EXPECT_EQ(server_.open_cursors(), 0u);
  bson_destroy(opts);
  bson_destroy(&filter);
}

TEST_F(WireServerTest, DropReportsAMissingNamespace) {
  bson_error_t err;
  EXPECT_FALSE(mongoc_collection_drop_with_opts(coll_.get(), nullptr, &err));
  EXPECT_EQ(err.code, 26u);  // NamespaceNotFound
  insert_n(3);
  EXPECT_EQ(server_.count("db", "c"), 3u);
  EXPECT_TRUE(mongoc_collection_drop_with_opts(coll_.get(), nullptr, &err)) << err.message;
  EXPECT_EQ(server_.count("db", "c"), 0u);
}

TEST_F(WireServerTest, BulkInsertArrivesAsOneDocumentSequence) {
  bson_t* bulk_opts = BCON_NEW("ordered", BCON_BOOL(true));
  mongoc_bulk_operation_t* bulk = mongoc_collection_create_bulk_operation_with_opts(coll_.get(), bulk_opts);
  for (int i = 0; i < 50; ++i) {
    bson_t* doc = BCON_NEW("x", BCON_DOUBLE(i * 0.5));
    mongoc_bulk_operation_insert(bulk, doc);
    bson_destroy(doc);
  }
  bson_t reply;
  bson_error_t err;
  EXPECT_NE(mongoc_bulk_operation_execute(bulk, &reply, &err), 0u) << err.message;
  bson_destroy(&reply);
  mongoc_bulk_operation_destroy(bulk);
  bson_destroy(bulk_opts);
  EXPECT_EQ(server_.count("db", "c"), 50u);
  EXPECT_EQ(server_.commands()["insert"], 1u);
  EXPECT_EQ(server_.document_sequences(), 1u);
  EXPECT_GE(server_.opcodes()[2013], 1u);
}

}  // namespace
