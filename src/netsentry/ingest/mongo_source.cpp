// MongoDB source and sink through libmongoc: `mongodb://[user:pass@]HOST[:PORT][,...]/DB?collection=C[&opts]`
// (and `mongodb+srv://`). Every standard URI option (authSource, authMechanism, tls, tlsCAFile, ...) is
// handed to libmongoc unchanged; `collection` (and an optional `database`, overriding the path) are ours.
//
// `mongodb`, `mongodb:` or `mongodb:?collection=C&database=D` take the URL from the environment variable
// MONGO_DB_URL, or from a `MONGO_DB_URL=...` line of `.env` in the working directory (as the reference
// project does with python-dotenv; the environment wins).
//
//   source: one cursor over `find({})` in batches of 1000 (getMore), each document typed as it arrives by
//           the shared record rules (`_id` dropped, "na" missing, absent field missing, schema-checked).
//   sink:   bulk inserts of 1000 documents each; `replace` drops the collection first.
#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "netsentry/core/error.hpp"
#include "netsentry/core/text.hpp"
#include "netsentry/ingest/record_builder.hpp"
#include "netsentry/ingest/source.hpp"
#include "netsentry/table/number_text.hpp"

namespace netsentry {

namespace {

constexpr std::int32_t kBatch = 1000;

// The user-info secrets of every MongoDB URI this process has opened: libmongoc's log messages are
// scrubbed of them (it may quote a URI it parsed differently from us).
struct LogSecrets {
  std::mutex mu;
  std::vector<std::string> secrets;
  void add(const std::vector<std::string>& s) {
    std::lock_guard lock(mu);
    for (const auto& x : s)
      if (std::find(secrets.begin(), secrets.end(), x) == secrets.end()) secrets.push_back(x);
    std::sort(secrets.begin(), secrets.end(),
              [](const auto& a, const auto& b) { return a.size() > b.size(); });
  }
  std::string scrub(const char* message) {
    std::lock_guard lock(mu);
    return scrub_secrets(message, secrets);
  }
};
LogSecrets& log_secrets() {
  static LogSecrets s;
  return s;
}

void mongo_log(mongoc_log_level_t level, const char* domain, const char* message, void*) {
  if (level == MONGOC_LOG_LEVEL_TRACE) return;
  const std::string m = log_secrets().scrub(message);
  switch (level) {
    case MONGOC_LOG_LEVEL_ERROR:
    case MONGOC_LOG_LEVEL_CRITICAL:
      spdlog::error("mongoc[{}]: {}", domain, m);
      break;
    case MONGOC_LOG_LEVEL_WARNING:
      spdlog::warn("mongoc[{}]: {}", domain, m);
      break;
    default:
      spdlog::debug("mongoc[{}]: {}", domain, m);
  }
}

void init_mongoc() {
  static std::once_flag once;
  std::call_once(once, [] {
    mongoc_init();
    mongoc_log_set_handler(mongo_log, nullptr);
  });
}

template <class T, void (*Destroy)(T*)>
struct Destroyer {
  void operator()(T* p) const {
    if (p) Destroy(p);
  }
};
using UriPtr = std::unique_ptr<mongoc_uri_t, Destroyer<mongoc_uri_t, mongoc_uri_destroy>>;
using ClientPtr = std::unique_ptr<mongoc_client_t, Destroyer<mongoc_client_t, mongoc_client_destroy>>;
using CollectionPtr =
    std::unique_ptr<mongoc_collection_t, Destroyer<mongoc_collection_t, mongoc_collection_destroy>>;
using CursorPtr = std::unique_ptr<mongoc_cursor_t, Destroyer<mongoc_cursor_t, mongoc_cursor_destroy>>;
using BulkPtr = std::unique_ptr<mongoc_bulk_operation_t,
                                Destroyer<mongoc_bulk_operation_t, mongoc_bulk_operation_destroy>>;
// A heap BSON document (from BCON_NEW), always destroyed. (Not a unique_ptr: bson_t carries an alignment
// attribute that template arguments drop.)
class BsonPtr {
 public:
  explicit BsonPtr(bson_t* p) : p_(p) {}
  ~BsonPtr() {
    if (p_) bson_destroy(p_);
  }
  BsonPtr(const BsonPtr&) = delete;
  BsonPtr& operator=(const BsonPtr&) = delete;
  bson_t* get() const { return p_; }

 private:
  bson_t* p_;
};

// A stack BSON document, always destroyed.
struct Bson {
  bson_t doc;
  Bson() { bson_init(&doc); }
  ~Bson() { bson_destroy(&doc); }
  Bson(const Bson&) = delete;
  Bson& operator=(const Bson&) = delete;
  bson_t* get() { return &doc; }
};

std::string percent_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Credentials and secret-bearing options replaced by "***".
std::string redact_mongo_uri(const std::string& uri) {
  std::string r = redact_uri(uri);
  auto q = r.find('?');
  if (q == std::string::npos) return r;
  std::string out = r.substr(0, q + 1), query = r.substr(q + 1);
  std::size_t pos = 0;
  bool first = true;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    std::string kv = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    pos = amp == std::string::npos ? query.size() + 1 : amp + 1;
    auto eq = kv.find('=');
    std::string key = ascii_lower(kv.substr(0, eq));
    if (eq != std::string::npos &&
        (key.find("password") != std::string::npos || key.find("secret") != std::string::npos ||
         key.find("token") != std::string::npos || key == "authmechanismproperties"))
      kv = kv.substr(0, eq + 1) + "***";
    out += (first ? "" : "&") + kv;
    first = false;
  }
  return out;
}

std::string trim(std::string s) {
  auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!s.empty() && blank(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && blank(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// MONGO_DB_URL from the environment, else from ./.env; empty when neither has it.
std::string mongo_url_from_environment() {
  if (const char* v = std::getenv("MONGO_DB_URL"); v && *v) return v;
  std::ifstream in(".env");
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos ||
        trim(line.substr(0, eq)) != "MONGO_DB_URL")
      continue;
    std::string v = trim(line.substr(eq + 1));
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
      v = v.substr(1, v.size() - 2);
    else if (auto hash = v.find(" #"); hash != std::string::npos)
      v = trim(v.substr(0, hash));
    return v;
  }
  return {};
}

struct MongoTarget {
  std::string client_uri;  // what libmongoc gets (our own parameters removed)
  std::string shown;       // for messages: redacted
  std::vector<std::string>
      secrets;  // of the URI's user info (uri_secrets), scrubbed from libmongoc's messages
  std::string scrub(const char* message) const { return scrub_secrets(message, secrets); }
  // A failed operation: UnreachableError when no server could be reached (server selection, the
  // network), else a runtime_error; the message names the target and `what` failed.
  [[noreturn]] void fail(const std::string& what, const bson_error_t& err) const {
    if (err.domain == MONGOC_ERROR_SERVER_SELECTION || err.domain == MONGOC_ERROR_STREAM)
      throw UnreachableError(shown + ": cannot reach the MongoDB server (" + what +
                             "): " + scrub(err.message));
    throw std::runtime_error(shown + ": " + what + ": " + scrub(err.message));
  }
  std::string database;
  std::string collection;
};

MongoTarget resolve_mongo_target(const std::string& given) {
  std::string uri = given;
  std::string database, collection;
  // Our parameters may come with the short form too: `mongodb:?collection=C&database=D`.
  auto take_params = [&](std::string& u) {
    auto q = u.find('?');
    if (q == std::string::npos) return;
    std::string query = u.substr(q + 1), kept;
    std::size_t pos = 0;
    while (pos <= query.size()) {
      auto amp = query.find('&', pos);
      std::string kv = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
      pos = amp == std::string::npos ? query.size() + 1 : amp + 1;
      if (kv.empty()) continue;
      auto eq = kv.find('=');
      std::string key = ascii_lower(kv.substr(0, eq));
      std::string value = eq == std::string::npos ? "" : percent_decode(kv.substr(eq + 1));
      if (key == "collection")
        collection = value;
      else if (key == "database")
        database = value;
      else
        kept += (kept.empty() ? "" : "&") + kv;
    }
    u = u.substr(0, q) + (kept.empty() ? "" : "?" + kept);
  };

  if (uri == "mongodb" || (uri.rfind("mongodb:", 0) == 0 && uri.rfind("mongodb://", 0) != 0)) {
    std::string shortform = uri;
    take_params(shortform);
    if (shortform != "mongodb" && shortform != "mongodb:")
      throw UsageError("'" + redact_mongo_uri(given) +
                       "': expected mongodb://HOST/DB?collection=C, or mongodb: to read MONGO_DB_URL");
    std::string db_override = database, coll_override = collection;
    uri = mongo_url_from_environment();
    if (uri.empty())
      throw UsageError(
          "'" + given +
          "' takes the MongoDB URL from MONGO_DB_URL, which is neither set in the environment nor in "
          "./.env (a line MONGO_DB_URL=mongodb://...)");
    if (uri.rfind("mongodb://", 0) != 0 && uri.rfind("mongodb+srv://", 0) != 0)
      throw UsageError("MONGO_DB_URL must start with mongodb:// or mongodb+srv://, got '" +
                       redact_mongo_uri(uri) + "'");
    take_params(uri);
    if (!db_override.empty()) database = db_override;
    if (!coll_override.empty()) collection = coll_override;
  } else {
    take_params(uri);
  }
  // libmongoc wants a '/' between the hosts and the options.
  auto hosts = uri.find("://");
  if (hosts != std::string::npos) {
    auto end = uri.find_first_of("/?", hosts + 3);
    if (end != std::string::npos && uri[end] == '?') uri.insert(end, "/");
  }

  MongoTarget t;
  t.client_uri = uri;
  std::string shown_uri = uri;
  if (!collection.empty())
    shown_uri += (uri.find('?') == std::string::npos ? "?" : "&") + ("collection=" + collection);
  t.shown = redact_mongo_uri(shown_uri);
  t.secrets = uri_secrets(uri);
  log_secrets().add(t.secrets);
  t.collection = collection;
  t.database = database;
  return t;
}

// A connected client and collection; everything released on destruction.
struct Connection {
  UriPtr uri;
  ClientPtr client;
  CollectionPtr collection;
};

Connection connect(const MongoTarget& t) {
  init_mongoc();
  bson_error_t err;
  Connection c;
  c.uri.reset(mongoc_uri_new_with_error(t.client_uri.c_str(), &err));
  if (!c.uri)
    throw UsageError(t.shown + ": invalid MongoDB URI: " + t.scrub(err.message) +
                     (t.secrets.empty() ? ""
                                        : " (in a user name or password, '/', ':', '@' and '%' must be "
                                          "percent-encoded: %2F, %3A, %40, %25)"));
  std::string db = t.database;
  if (db.empty())
    if (const char* d = mongoc_uri_get_database(c.uri.get())) db = d;
  if (db.empty()) throw UsageError(t.shown + ": no database: write mongodb://HOST/DB?collection=C");
  if (t.collection.empty()) throw UsageError(t.shown + ": no collection: add ?collection=NAME to the URI");
  c.client.reset(mongoc_client_new_from_uri_with_error(c.uri.get(), &err));
  if (!c.client) throw UsageError(t.shown + ": cannot create a MongoDB client: " + t.scrub(err.message));
  mongoc_client_set_error_api(c.client.get(), MONGOC_ERROR_API_VERSION_2);
  mongoc_client_set_appname(c.client.get(), "netsentry");
  c.collection.reset(mongoc_client_get_collection(c.client.get(), db.c_str(), t.collection.c_str()));
  return c;
}

std::string id_text(const bson_t* doc) {
  bson_iter_t it;
  if (!doc || !bson_iter_init_find(&it, doc, "_id")) return {};
  switch (bson_iter_type(&it)) {
    case BSON_TYPE_OID: {
      char hex[25];
      bson_oid_to_string(bson_iter_oid(&it), hex);
      return hex;
    }
    case BSON_TYPE_UTF8:
      return "\"" + std::string(bson_iter_utf8(&it, nullptr)) + "\"";
    case BSON_TYPE_INT32:
      return std::to_string(bson_iter_int32(&it));
    case BSON_TYPE_INT64:
      return std::to_string(bson_iter_int64(&it));
    default: {
      bson_t wrapper;
      bson_init(&wrapper);
      bson_append_iter(&wrapper, "_id", 3, &it);
      char* json = bson_as_relaxed_extended_json(&wrapper, nullptr);
      std::string s = json ? json : "?";
      bson_free(json);
      bson_destroy(&wrapper);
      return s;
    }
  }
}

class MongoSource final : public Source {
 public:
  explicit MongoSource(const std::string& uri) : t_(resolve_mongo_target(uri)) {}

  Table read(const SourceOptions& opt) override {
    Connection c = connect(t_);
    Bson filter;
    BsonPtr find_opts(BCON_NEW("batchSize", BCON_INT32(kBatch)));
    CursorPtr cursor(
        mongoc_collection_find_with_opts(c.collection.get(), filter.get(), find_opts.get(), nullptr));
    const bson_t* doc = nullptr;
    std::size_t index = 0;
    RecordBuilder b(t_.shown, opt, [&] {
      std::string id = id_text(doc);
      return "document " + std::to_string(index) + (id.empty() ? "" : " (_id " + id + ")");
    });
    while (mongoc_cursor_next(cursor.get(), &doc)) {
      ++index;
      b.begin_record();
      bson_iter_t it;
      if (!bson_iter_init(&it, doc)) b.fail("", "malformed BSON document");
      while (bson_iter_next(&it)) {
        std::string_view key(bson_iter_key(&it), bson_iter_key_len(&it));
        switch (bson_iter_type(&it)) {
          case BSON_TYPE_DOUBLE:
            b.add_number(key, bson_iter_double(&it));
            break;
          case BSON_TYPE_INT32:
            b.add_number(key, bson_iter_int32(&it));
            break;
          case BSON_TYPE_INT64:
            b.add_number(key, static_cast<double>(bson_iter_int64(&it)));
            break;
          case BSON_TYPE_BOOL:
            b.add_number(key, bson_iter_bool(&it) ? 1.0 : 0.0);
            break;
          case BSON_TYPE_DECIMAL128: {
            bson_decimal128_t d;
            char text[BSON_DECIMAL128_STRING];
            bson_iter_decimal128(&it, &d);
            bson_decimal128_to_string(&d, text);
            if (auto v = parse_number(text))
              b.add_number(key, *v);
            else
              b.add_missing(key);  // NaN / Infinity
            break;
          }
          case BSON_TYPE_UTF8: {
            uint32_t len = 0;
            const char* s = bson_iter_utf8(&it, &len);
            b.add_text(key, std::string_view(s, len));
            break;
          }
          case BSON_TYPE_NULL:
          case BSON_TYPE_UNDEFINED:
            b.add_missing(key);
            break;
          case BSON_TYPE_OID: {
            char hex[25];
            bson_oid_to_string(bson_iter_oid(&it), hex);
            b.add_text(key, hex);
            break;
          }
          default:
            if (key == "_id") break;  // dropped anyway, whatever its type
            b.fail(key, "expected a number, a string or null, got a BSON value of type 0x" +
                            std::to_string(static_cast<int>(bson_iter_type(&it))));
        }
      }
      b.end_record();
    }
    doc = nullptr;
    bson_error_t err;
    if (mongoc_cursor_error(cursor.get(), &err))
      t_.fail("reading documents failed after " + std::to_string(index) + " documents", err);
    if (index == 0)
      throw DataError(t_.shown +
                      ": the collection holds no documents (is the database or collection name right?)");
    spdlog::debug("read {} documents from {}", index, t_.shown);
    return b.finish();
  }

  std::string describe() const override { return t_.shown; }
  std::string name() const override { return t_.collection; }

 private:
  MongoTarget t_;
};

class MongoSink final : public Sink {
 public:
  explicit MongoSink(const std::string& uri) : t_(resolve_mongo_target(uri)) {}

  std::size_t write(const Table& t, bool replace) override {
    Connection c = connect(t_);
    bson_error_t err;
    if (replace && !mongoc_collection_drop_with_opts(c.collection.get(), nullptr, &err) &&
        err.code != kNamespaceNotFound)
      t_.fail("dropping the collection failed", err);

    // Whole-number columns are stored as int64 (as pandas' to_dict + insert_many does), others as double.
    std::vector<bool> integral(t.cols(), true);
    for (std::size_t j = 0; j < t.cols(); ++j) {
      const Column& col = t.columns[j];
      if (col.type != ColumnType::Numeric) continue;
      for (double v : col.num)
        if (!std::isnan(v) && (v != std::trunc(v) || std::fabs(v) > 9.0e15)) {
          integral[j] = false;
          break;
        }
    }

    const std::size_t n = t.rows();
    std::size_t written = 0;
    BsonPtr bulk_opts(BCON_NEW("ordered", BCON_BOOL(true)));
    for (std::size_t start = 0; start < n; start += kBatch) {
      const std::size_t end = std::min(n, start + static_cast<std::size_t>(kBatch));
      BulkPtr bulk(mongoc_collection_create_bulk_operation_with_opts(c.collection.get(), bulk_opts.get()));
      for (std::size_t i = start; i < end; ++i) {
        Bson doc;
        for (std::size_t j = 0; j < t.cols(); ++j) {
          const Column& col = t.columns[j];
          const char* key = col.name.c_str();
          const int klen = static_cast<int>(col.name.size());
          if (col.type == ColumnType::Numeric) {
            double v = col.num[i];
            if (std::isnan(v))
              bson_append_null(doc.get(), key, klen);
            else if (integral[j])
              bson_append_int64(doc.get(), key, klen, static_cast<int64_t>(v));
            else
              bson_append_double(doc.get(), key, klen, v);
          } else {
            const std::string& v = col.text[i];
            if (v.empty())
              bson_append_null(doc.get(), key, klen);
            else
              bson_append_utf8(doc.get(), key, klen, v.data(), static_cast<int>(v.size()));
          }
        }
        if (!mongoc_bulk_operation_insert_with_opts(bulk.get(), doc.get(), nullptr, &err))
          throw DataError(t_.shown + ": row " + std::to_string(i + 1) +
                          " cannot be stored: " + t_.scrub(err.message));
      }
      Bson reply;
      if (!mongoc_bulk_operation_execute(bulk.get(), reply.get(), &err))
        t_.fail("inserting rows " + std::to_string(start + 1) + "-" + std::to_string(end) + " failed (" +
                    std::to_string(written) + " rows written before)",
                err);
      bson_iter_t it;
      if (bson_iter_init_find(&it, reply.get(), "nInserted") && BSON_ITER_HOLDS_INT(&it))
        written += static_cast<std::size_t>(bson_iter_as_int64(&it));
      else
        written += end - start;
    }
    spdlog::debug("wrote {} documents to {}", written, t_.shown);
    return written;
  }

  std::string describe() const override { return t_.shown; }

 private:
  static constexpr uint32_t kNamespaceNotFound = 26;
  MongoTarget t_;
};

}  // namespace

NETSENTRY_REGISTER_SOURCE(mongodb, "mongodb",
                          [](const std::string& uri) { return std::make_unique<MongoSource>(uri); });
NETSENTRY_REGISTER_SOURCE(mongodb_srv, "mongodb+srv",
                          [](const std::string& uri) { return std::make_unique<MongoSource>(uri); });
NETSENTRY_REGISTER_SINK(mongodb, "mongodb",
                        [](const std::string& uri) { return std::make_unique<MongoSink>(uri); });
NETSENTRY_REGISTER_SINK(mongodb_srv, "mongodb+srv",
                        [](const std::string& uri) { return std::make_unique<MongoSink>(uri); });

}  // namespace netsentry
