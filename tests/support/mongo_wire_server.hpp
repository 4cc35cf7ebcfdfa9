#pragma once
// A MongoDB stand-in for tests: a loopback TCP server speaking the MongoDB wire protocol, backed by
// memory. No MongoDB server can be installed on the test machines, so the real libmongoc client
// (used by netsentry's Mongo source and sink, in-process or in a child `netsentry` process) talks to
// this server over TCP.
//
// Protocol: OP_MSG (opcode 2013; kind-0 body, kind-1 document sequences, checksum and moreToCome
// flags honoured) and the legacy OP_QUERY/OP_REPLY handshake on `db.$cmd`.
// Commands: hello / isMaster / ismaster, ping, buildInfo, insert, find (empty filter; batchSize, limit,
// skip, singleBatch), getMore, killCursors, drop, count, endSessions. Anything else answers
// CommandNotFound, as a real server would.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace netsentry::test {

class MongoWireServer {
 public:
  // Binds 127.0.0.1 on a free port and starts serving in a background thread.
  MongoWireServer();
  ~MongoWireServer();
  MongoWireServer(const MongoWireServer&) = delete;
  MongoWireServer& operator=(const MongoWireServer&) = delete;

  std::uint16_t port() const { return port_; }
  // "mongodb://127.0.0.1:PORT/DB?collection=C" (short server-selection timeout, for fast failures)
  std::string uri(const std::string& db, const std::string& collection) const;
  // Number of documents in db.collection (0 when absent).
  std::size_t count(const std::string& db, const std::string& collection) const;
  // How many times each command (lower-cased name) was received, over every connection.
  std::map<std::string, std::size_t> commands() const;
  std::size_t connections_accepted() const { return accepted_; }
  std::size_t open_cursors() const;
  // How many messages of each opcode arrived (2013 = OP_MSG, 2004 = OP_QUERY).
  std::map<int, std::size_t> opcodes() const;
  // How many OP_MSG kind-1 sections (document sequences, e.g. an insert's "documents") arrived.
  std::size_t document_sequences() const;
  // Stops accepting, closes every connection and joins the threads (also done by the destructor).
  void stop();

  // The storage and command logic, shared by the connection threads (defined in the .cpp).
  struct State;

 private:
  void accept_loop();
  void serve(int fd);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> accepted_{0};
  std::thread accept_thread_;
  std::mutex conn_mu_;
  std::vector<std::pair<int, std::thread>> conns_;
  std::unique_ptr<State> state_;
};

}  // namespace netsentry::test
