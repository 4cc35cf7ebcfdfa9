#include "support/mongo_wire_server.hpp"

#include <arpa/inet.h>
#include <bson/bson.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace netsentry::test {

namespace {

constexpr std::int32_t kOpReply = 1;
constexpr std::int32_t kOpQuery = 2004;
constexpr std::int32_t kOpMsg = 2013;
constexpr std::uint32_t kChecksumPresent = 1u << 0;
constexpr std::uint32_t kMoreToCome = 1u << 1;
constexpr std::int32_t kMaxBsonObjectSize = 16 * 1024 * 1024;
constexpr std::int32_t kMaxMessageSize = 48000000;
constexpr std::int32_t kMaxWriteBatchSize = 100000;
constexpr std::size_t kMaxBatchBytes = kMaxBsonObjectSize - 64 * 1024;
constexpr std::int64_t kDefaultFirstBatch = 101;

using Bytes = std::vector<std::uint8_t>;
using Doc = std::shared_ptr<const Bytes>;

std::int32_t get_i32(const std::uint8_t* p) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
                                   static_cast<std::uint32_t>(p[2]) << 16 |
                                   static_cast<std::uint32_t>(p[3]) << 24);
}
void put_i32(Bytes& out, std::int32_t v) {
  auto u = static_cast<std::uint32_t>(v);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(u >> (8 * i)));
}
void put_i64(Bytes& out, std::int64_t v) {
  auto u = static_cast<std::uint64_t>(v);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(u >> (8 * i)));
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// An owned, heap-allocated reply document.
class Reply {
 public:
  Reply() : b_(bson_new()) {}
  ~Reply() { bson_destroy(b_); }
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;
  bson_t* get() const { return b_; }

 private:
  bson_t* b_;
};

// A read-only view of BSON bytes owned elsewhere.
struct View {
  const std::uint8_t* data = nullptr;
  std::uint32_t len = 0;
  bool init(bson_t& b) const { return bson_init_static(&b, data, len); }
};

bool find_string(const bson_t* b, const char* key, std::string& out) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, b, key) || !BSON_ITER_HOLDS_UTF8(&it)) return false;
  out = bson_iter_utf8(&it, nullptr);
  return true;
}
bool find_int(const bson_t* b, const char* key, std::int64_t& out) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, b, key) || !BSON_ITER_HOLDS_NUMBER(&it)) return false;
  out = bson_iter_as_int64(&it);
  return true;
}
bool find_bool(const bson_t* b, const char* key) {
  bson_iter_t it;
  return bson_iter_init_find(&it, b, key) && bson_iter_as_bool(&it);
}
// A sub-document (empty when absent); false when present but not a document.
bool find_doc(const bson_t* b, const char* key, bson_t& out) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, b, key)) {
    bson_init(&out);
    return true;
  }
  if (!BSON_ITER_HOLDS_DOCUMENT(&it)) return false;
  const std::uint8_t* data;
  std::uint32_t len;
  bson_iter_document(&it, &len, &data);
  return bson_init_static(&out, data, len);
}

void set_ok(bson_t* r) { BSON_APPEND_DOUBLE(r, "ok", 1.0); }
void set_error(bson_t* r, std::int32_t code, const char* code_name, const std::string& msg) {
  BSON_APPEND_DOUBLE(r, "ok", 0.0);
  BSON_APPEND_UTF8(r, "errmsg", msg.c_str());
  BSON_APPEND_INT32(r, "code", code);
  BSON_APPEND_UTF8(r, "codeName", code_name);
}

bool recv_all(int fd, std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    ssize_t got = ::recv(fd, p, n, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}
bool send_all(int fd, const Bytes& b) {
  const std::uint8_t* p = b.data();
  std::size_t n = b.size();
  while (n > 0) {
    ssize_t sent = ::send(fd, p, n, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    p += sent;
    n -= static_cast<std::size_t>(sent);
  }
  return true;
}

}  // namespace

struct MongoWireServer::State {
  struct Cursor {
    std::string ns;
    std::vector<Doc> docs;
    std::size_t pos = 0;
  };

  mutable std::mutex mu;
  std::map<std::string, std::vector<Doc>> collections;  // "db.coll" -> documents, in insertion order
  std::map<std::int64_t, Cursor> cursors;
  std::int64_t next_cursor = 7000000001;
  std::map<std::string, std::size_t> seen;
  std::map<int, std::size_t> opcodes;
  std::size_t document_sequences = 0;
  std::int32_t next_connection_id = 1;
  std::atomic<std::int32_t> next_request_id{1};

  // Runs one command. `sequences` holds OP_MSG kind-1 sections by identifier.
  void run(const std::string& db, const bson_t* cmd,
           const std::map<std::string, std::vector<View>>& sequences, std::int32_t connection_id, bson_t* r) {
    bson_iter_t it;
    if (!bson_iter_init(&it, cmd) || !bson_iter_next(&it)) {
      set_error(r, 9, "FailedToParse", "empty command document");
      return;
    }
    const std::string name = lower(bson_iter_key(&it));
    std::lock_guard lock(mu);
    ++seen[name];
    if (name == "hello" || name == "ismaster") {
      BSON_APPEND_BOOL(r, "helloOk", true);
      BSON_APPEND_BOOL(r, name == "hello" ? "isWritablePrimary" : "ismaster", true);
      BSON_APPEND_INT32(r, "maxBsonObjectSize", kMaxBsonObjectSize);
      BSON_APPEND_INT32(r, "maxMessageSizeBytes", kMaxMessageSize);
      BSON_APPEND_INT32(r, "maxWriteBatchSize", kMaxWriteBatchSize);
      BSON_APPEND_DATE_TIME(r, "localTime",
                            std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
      BSON_APPEND_INT32(r, "logicalSessionTimeoutMinutes", 30);
      BSON_APPEND_INT32(r, "connectionId", connection_id);
      BSON_APPEND_INT32(r, "minWireVersion", 0);
      BSON_APPEND_INT32(r, "maxWireVersion", 17);
      BSON_APPEND_BOOL(r, "readOnly", false);
      set_ok(r);
    } else if (name == "ping" || name == "endsessions") {
      set_ok(r);
    } else if (name == "buildinfo") {
      BSON_APPEND_UTF8(r, "version", "6.0.0");
      bson_t arr;
      BSON_APPEND_ARRAY_BEGIN(r, "versionArray", &arr);
      for (const char* k : {"0", "1", "2", "3"}) BSON_APPEND_INT32(&arr, k, k[0] == '0' ? 6 : 0);
      bson_append_array_end(r, &arr);
      BSON_APPEND_INT32(r, "maxBsonObjectSize", kMaxBsonObjectSize);
      set_ok(r);
    } else if (name == "insert") {
      insert(db, cmd, sequences, r);
    } else if (name == "find") {
      find(db, cmd, r);
    } else if (name == "getmore") {
      get_more(db, cmd, r);
    } else if (name == "killcursors") {
      kill_cursors(cmd, r);
    } else if (name == "drop") {
      std::string coll;
      find_string(cmd, "drop", coll);
      auto c = collections.find(db + "." + coll);
      if (c == collections.end()) {
        set_error(r, 26, "NamespaceNotFound", "ns not found");
      } else {
        collections.erase(c);
        BSON_APPEND_INT32(r, "nIndexesWas", 1);
        BSON_APPEND_UTF8(r, "ns", (db + "." + coll).c_str());
        set_ok(r);
      }
    } else if (name == "count") {
      std::string coll;
      find_string(cmd, "count", coll);
      bson_t query;
      if (!find_doc(cmd, "query", query) || !bson_empty(&query)) {
        set_error(r, 2, "BadValue", "this test server only counts with an empty query");
        return;
      }
      auto c = collections.find(db + "." + coll);
      BSON_APPEND_INT64(r, "n", c == collections.end() ? 0 : static_cast<std::int64_t>(c->second.size()));
      set_ok(r);
    } else if (name == "listcollections") {
      list_collections(db, r);
    } else {
      set_error(r, 59, "CommandNotFound", "no such command: '" + std::string(bson_iter_key(&it)) + "'");
    }
  }

  void insert(const std::string& db, const bson_t* cmd,
              const std::map<std::string, std::vector<View>>& sequences, bson_t* r) {
    std::string coll;
    if (!find_string(cmd, "insert", coll) || coll.empty()) {
      set_error(r, 73, "InvalidNamespace", "insert needs a collection name");
      return;
    }
    std::vector<View> docs;
    if (auto s = sequences.find("documents"); s != sequences.end()) docs = s->second;
    bson_iter_t it, child;
    if (bson_iter_init_find(&it, cmd, "documents") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &child))
      while (bson_iter_next(&child))
        if (BSON_ITER_HOLDS_DOCUMENT(&child)) {
          View v;
          bson_iter_document(&child, &v.len, &v.data);
          docs.push_back(v);
        }
    auto& store = collections[db + "." + coll];
    for (const View& v : docs) {
      bson_t doc;
      if (!v.init(doc)) {
        set_error(r, 22, "InvalidBSON", "invalid BSON document in insert");
        return;
      }
      bson_iter_t id;
      if (bson_iter_init_find(&id, &doc, "_id")) {
        store.push_back(std::make_shared<const Bytes>(v.data, v.data + v.len));
      } else {  // a server gives every document an _id, first
        Reply with_id;
        bson_oid_t oid;
        bson_oid_init(&oid, nullptr);
        BSON_APPEND_OID(with_id.get(), "_id", &oid);
        bson_concat(with_id.get(), &doc);
        const std::uint8_t* d = bson_get_data(with_id.get());
        store.push_back(std::make_shared<const Bytes>(d, d + with_id.get()->len));
      }
    }
    BSON_APPEND_INT32(r, "n", static_cast<std::int32_t>(docs.size()));
    set_ok(r);
  }

  // Appends up to `limit` documents (and at most kMaxBatchBytes) from the cursor to r.cursor.<field>.
  void append_batch(Cursor& c, std::int64_t limit, const char* field, std::int64_t id, bson_t* r) {
    bson_t cur, arr;
    BSON_APPEND_DOCUMENT_BEGIN(r, "cursor", &cur);
    BSON_APPEND_ARRAY_BEGIN(&cur, field, &arr);
    std::size_t bytes = 0;
    std::uint32_t k = 0;
    while (c.pos < c.docs.size() && static_cast<std::int64_t>(k) < limit) {
      const Bytes& d = *c.docs[c.pos];
      if (k > 0 && bytes + d.size() > kMaxBatchBytes) break;
      bson_t view;
      bson_init_static(&view, d.data(), d.size());
      char buf[16];
      const char* key;
      std::size_t klen = bson_uint32_to_string(k, &key, buf, sizeof buf);
      bson_append_document(&arr, key, static_cast<int>(klen), &view);
      bytes += d.size();
      ++k;
      ++c.pos;
    }
    bson_append_array_end(&cur, &arr);
    BSON_APPEND_INT64(&cur, "id", c.pos < c.docs.size() ? id : 0);
    BSON_APPEND_UTF8(&cur, "ns", c.ns.c_str());
    bson_append_document_end(r, &cur);
  }

  void find(const std::string& db, const bson_t* cmd, bson_t* r) {
    std::string coll;
    find_string(cmd, "find", coll);
    bson_t filter;
    if (!find_doc(cmd, "filter", filter) || !bson_empty(&filter)) {
      set_error(r, 2, "BadValue", "this test server only supports an empty filter");
      return;
    }
    Cursor c;
    c.ns = db + "." + coll;
    if (auto it = collections.find(c.ns); it != collections.end()) c.docs = it->second;
    std::int64_t skip = 0, limit = 0, batch = kDefaultFirstBatch;
    find_int(cmd, "skip", skip);
    find_int(cmd, "limit", limit);
    find_int(cmd, "batchSize", batch);
    if (skip < 0 || batch < 0) {
      set_error(r, 2, "BadValue", "skip and batchSize must not be negative");
      return;
    }
    c.docs.erase(c.docs.begin(),
                 c.docs.begin() + std::min<std::int64_t>(skip, static_cast<std::int64_t>(c.docs.size())));
    if (limit != 0)
      c.docs.resize(std::min<std::size_t>(c.docs.size(), static_cast<std::size_t>(std::llabs(limit))));
    const bool single = find_bool(cmd, "singleBatch") || limit < 0;
    if (single) batch = static_cast<std::int64_t>(c.docs.size());
    const std::int64_t id = next_cursor++;
    append_batch(c, batch, "firstBatch", id, r);
    set_ok(r);
    if (c.pos < c.docs.size()) cursors.emplace(id, std::move(c));
  }

  void get_more(const std::string& db, const bson_t* cmd, bson_t* r) {
    std::int64_t id = 0, batch = INT64_MAX;
    find_int(cmd, "getMore", id);
    find_int(cmd, "batchSize", batch);
    if (batch <= 0) batch = INT64_MAX;
    auto it = cursors.find(id);
    if (it == cursors.end()) {
      set_error(r, 43, "CursorNotFound", "cursor id " + std::to_string(id) + " not found");
      return;
    }
    std::string coll;
    if (find_string(cmd, "collection", coll) && it->second.ns != db + "." + coll) {
      set_error(r, 13, "Unauthorized", "cursor " + std::to_string(id) + " belongs to " + it->second.ns);
      return;
    }
    append_batch(it->second, batch, "nextBatch", id, r);
    set_ok(r);
    if (it->second.pos >= it->second.docs.size()) cursors.erase(it);
  }

  void kill_cursors(const bson_t* cmd, bson_t* r) {
    std::vector<std::int64_t> killed, not_found;
    bson_iter_t it, child;
    if (bson_iter_init_find(&it, cmd, "cursors") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &child))
      while (bson_iter_next(&child)) {
        std::int64_t id = bson_iter_as_int64(&child);
        (cursors.erase(id) ? killed : not_found).push_back(id);
      }
    auto list = [&](const char* name, const std::vector<std::int64_t>& ids) {
      bson_t arr;
      BSON_APPEND_ARRAY_BEGIN(r, name, &arr);
      for (std::uint32_t i = 0; i < ids.size(); ++i) {
        char buf[16];
        const char* key;
        std::size_t klen = bson_uint32_to_string(i, &key, buf, sizeof buf);
        bson_append_int64(&arr, key, static_cast<int>(klen), ids[i]);
      }
      bson_append_array_end(r, &arr);
    };
    list("cursorsKilled", killed);
    list("cursorsNotFound", not_found);
    list("cursorsAlive", {});
    list("cursorsUnknown", {});
    set_ok(r);
  }

  void list_collections(const std::string& db, bson_t* r) {
    bson_t cur, arr;
    BSON_APPEND_DOCUMENT_BEGIN(r, "cursor", &cur);
    BSON_APPEND_ARRAY_BEGIN(&cur, "firstBatch", &arr);
    std::uint32_t k = 0;
    for (auto& [ns, docs] : collections) {
      if (ns.rfind(db + ".", 0) != 0) continue;
      bson_t info;
      char buf[16];
      const char* key;
      std::size_t klen = bson_uint32_to_string(k++, &key, buf, sizeof buf);
      bson_append_document_begin(&arr, key, static_cast<int>(klen), &info);
      BSON_APPEND_UTF8(&info, "name", ns.substr(db.size() + 1).c_str());
      BSON_APPEND_UTF8(&info, "type", "collection");
      bson_append_document_end(&arr, &info);
    }
    bson_append_array_end(&cur, &arr);
    BSON_APPEND_INT64(&cur, "id", 0);
    BSON_APPEND_UTF8(&cur, "ns", (db + ".$cmd.listCollections").c_str());
    bson_append_document_end(r, &cur);
    set_ok(r);
  }
};

MongoWireServer::MongoWireServer() : state_(std::make_unique<State>()) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string err = std::strerror(errno);
    ::close(listen_fd_);
    throw std::runtime_error("mongo wire server: cannot listen on loopback: " + err);
  }
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { accept_loop(); });
}

MongoWireServer::~MongoWireServer() { stop(); }

std::string MongoWireServer::uri(const std::string& db, const std::string& collection) const {
  return "mongodb://127.0.0.1:" + std::to_string(port_) + "/" + db + "?collection=" + collection +
         "&serverSelectionTimeoutMS=5000";
}

std::size_t MongoWireServer::count(const std::string& db, const std::string& collection) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->collections.find(db + "." + collection);
  return it == state_->collections.end() ? 0 : it->second.size();
}

std::map<std::string, std::size_t> MongoWireServer::commands() const {
  std::lock_guard lock(state_->mu);
  return state_->seen;
}

std::size_t MongoWireServer::document_sequences() const {
  std::lock_guard lock(state_->mu);
  return state_->document_sequences;
}

std::map<int, std::size_t> MongoWireServer::opcodes() const {
  std::lock_guard lock(state_->mu);
  return state_->opcodes;
}

std::size_t MongoWireServer::open_cursors() const {
  std::lock_guard lock(state_->mu);
  return state_->cursors.size();
}

void MongoWireServer::stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (accept_thread_.joinable()) accept_thread_.join();
  ::close(listen_fd_);
  std::lock_guard lock(conn_mu_);
  for (auto& [fd, t] : conns_) ::shutdown(fd, SHUT_RDWR);
  for (auto& [fd, t] : conns_) {
    if (t.joinable()) t.join();
    ::close(fd);
  }
  conns_.clear();
}

void MongoWireServer::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, 200);
    if (ready <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (stopping_) {
      ::close(fd);
      break;
    }
    ++accepted_;
    std::lock_guard lock(conn_mu_);
    conns_.emplace_back(fd, std::thread([this, fd] { serve(fd); }));
  }
}

void MongoWireServer::serve(int fd) {
  std::int32_t connection_id;
  {
    std::lock_guard lock(state_->mu);
    connection_id = state_->next_connection_id++;
  }
  Bytes msg;
  for (;;) {
    std::uint8_t header[16];
    if (!recv_all(fd, header, sizeof header)) return;
    const std::int32_t length = get_i32(header), request_id = get_i32(header + 4), op = get_i32(header + 12);
    if (length < 16 || length > kMaxMessageSize) return;
    msg.assign(header, header + 16);
    msg.resize(static_cast<std::size_t>(length));
    if (!recv_all(fd, msg.data() + 16, msg.size() - 16)) return;
    {
      std::lock_guard lock(state_->mu);
      ++state_->opcodes[op];
    }
    const std::uint8_t* p = msg.data();
    const std::size_t n = msg.size();

    Reply reply;
    Bytes out(16, 0);  // header filled in below
    std::int32_t reply_op;
    if (op == kOpMsg) {
      if (n < 21) return;
      const auto flags = static_cast<std::uint32_t>(get_i32(p + 16));
      std::size_t pos = 20, end = n - ((flags & kChecksumPresent) ? 4 : 0);
      View body;
      std::map<std::string, std::vector<View>> sequences;
      while (pos < end) {
        const std::uint8_t kind = p[pos++];
        if (pos + 4 > end) return;
        const auto size = static_cast<std::uint32_t>(get_i32(p + pos));
        if (size < 5 || pos + size > end) return;
        if (kind == 0) {
          body = {p + pos, size};
          pos += size;
        } else if (kind == 1) {
          const std::size_t section_end = pos + size;
          pos += 4;
          const void* nul = std::memchr(p + pos, 0, section_end - pos);
          if (!nul) return;
          std::string id(reinterpret_cast<const char*>(p + pos));
          pos = static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - p) + 1;
          auto& docs = sequences[id];
          {
            std::lock_guard lock(state_->mu);
            ++state_->document_sequences;
          }
          while (pos < section_end) {
            if (pos + 4 > section_end) return;
            const auto dlen = static_cast<std::uint32_t>(get_i32(p + pos));
            if (dlen < 5 || pos + dlen > section_end) return;
            docs.push_back({p + pos, dlen});
            pos += dlen;
          }
        } else {
          return;  // unknown section kind: drop the connection, as a server would
        }
      }
      bson_t cmd;
      if (!body.data || !body.init(cmd)) return;
      std::string db;
      if (!find_string(&cmd, "$db", db)) db = "admin";
      state_->run(db, &cmd, sequences, connection_id, reply.get());
      if (flags & kMoreToCome) continue;  // the client expects no answer
      put_i32(out, 0);                    // flagBits
      out.push_back(0);                   // kind 0: body
      reply_op = kOpMsg;
    } else if (op == kOpQuery) {
      std::size_t pos = 20;  // after flags
      const void* nul = pos < n ? std::memchr(p + pos, 0, n - pos) : nullptr;
      if (!nul) return;
      std::string ns(reinterpret_cast<const char*>(p + pos));
      pos = static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - p) + 1 +
            8;  // skip, numberToReturn
      if (pos + 4 > n) return;
      View q{p + pos, static_cast<std::uint32_t>(get_i32(p + pos))};
      if (q.len < 5 || pos + q.len > n) return;
      bson_t query, inner;
      if (!q.init(query)) return;
      const std::string suffix = ".$cmd";
      put_i32(out, 0);  // responseFlags
      if (ns.size() > suffix.size() && ns.compare(ns.size() - suffix.size(), suffix.size(), suffix) == 0) {
        bson_iter_t it;
        const bson_t* cmd = &query;
        if (bson_iter_init(&it, &query) && bson_iter_next(&it) &&
            std::strcmp(bson_iter_key(&it), "$query") == 0 && find_doc(&query, "$query", inner))
          cmd = &inner;
        state_->run(ns.substr(0, ns.size() - suffix.size()), cmd, {}, connection_id, reply.get());
      } else {
        out[16] = 2;  // QueryFailure: legacy queries on collections are not supported
        BSON_APPEND_UTF8(reply.get(), "$err", "this test server answers OP_QUERY only for commands");
        BSON_APPEND_INT32(reply.get(), "code", 352);
      }
      put_i64(out, 0);  // cursorID
      put_i32(out, 0);  // startingFrom
      put_i32(out, 1);  // numberReturned
      reply_op = kOpReply;
    } else {
      return;  // OP_COMPRESSED etc.: not advertised, so not expected
    }
    const std::uint8_t* d = bson_get_data(reply.get());
    out.insert(out.end(), d, d + reply.get()->len);
    Bytes head;
    put_i32(head, static_cast<std::int32_t>(out.size()));
    put_i32(head, state_->next_request_id++);
    put_i32(head, request_id);
    put_i32(head, reply_op);
    std::copy(head.begin(), head.end(), out.begin());
    if (!send_all(fd, out)) return;
  }
}

}  // namespace netsentry::test
