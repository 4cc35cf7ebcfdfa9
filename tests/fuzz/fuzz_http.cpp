// HTTP request parsing and the server's own handling of what it parses: every input is sent over a
// loopback connection to an in-process HttpServer (the one under `netsentry serve`), then the
// sending side is closed. Whatever the bytes, the server answers only with well-formed status lines
// it gives on purpose (never a 500: a handler or the server failing), and it keeps serving.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "fuzz_support.hpp"
#include "netsentry/serve/http.hpp"

using namespace netsentry;
namespace http = netsentry::serve::http;

namespace {

struct Running {
  std::unique_ptr<http::HttpServer> server;
  std::thread thread;
  int port = 0;
};

Running& server() {
  static Running* r = [] {
    http::Limits lim;
    lim.io_threads = 1;
    lim.workers = 1;
    lim.max_body_bytes = 4096;
    lim.max_header_bytes = 2048;
    lim.inline_body_bytes = 1024;  // larger bodies go through the worker pool
    lim.read_timeout = std::chrono::seconds(2);
    lim.keep_alive_timeout = std::chrono::seconds(2);
    lim.request_timeout = std::chrono::seconds(4);
    auto* run = new Running;
    run->server = std::make_unique<http::HttpServer>(lim);
    auto& s = *run->server;
    s.error_body = [](int status, const std::string& message) {
      return "{\"status\":" + std::to_string(status) + ",\"error\":\"" + std::to_string(message.size()) +
             "\"}";
    };
    s.on_exception = [](std::string_view, int, const std::string& what) {
      fuzz::fail("a handler threw: " + what);
    };
    s.route("GET", "/healthz", [](http::Request&, http::Response& res) { res.set_body("ok", "text/plain"); });
    s.route("POST", "/echo", [](http::Request& req, http::Response& res) {
      std::string out =
          std::to_string(req.body.size()) + " " + std::to_string(req.header("content-type").size());
      if (auto p = req.param("q")) out += " " + std::to_string(p->size());
      res.set_body(std::move(out), "text/plain");
    });
    s.route("POST", "/later", [](http::Request& req, http::Response& res) {
      const std::size_t n = req.body.size();
      res.defer = [n](http::Response& r) { r.set_body(std::to_string(n), "text/plain"); };
    });
    s.route_pattern("GET", R"(/items/([0-9a-f]{1,32}))", [](http::Request& req, http::Response& res) {
      res.set_body(req.matches.at(1), "text/plain");
    });
    run->port = s.bind("127.0.0.1", 0);
    run->thread = std::thread([&s] { s.run(); });
    return run;
  }();
  return *r;
}

int connect_to(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int attempt = 0;; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) fuzz::fail("socket() failed");
    // Closed with a reset, so that thousands of connections a second leave no TIME_WAIT behind to
    // use up the loopback's ephemeral ports (the server has answered or closed its side by then).
    const linger no_wait{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_wait, sizeof no_wait);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      timeval tv{10, 0};  // far above any of the server's deadlines
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      return fd;
    }
    const int err = errno;
    ::close(fd);
    // No local port free yet (the server's side of closed connections in TIME_WAIT): the machine's
    // limit, not the server's; wait for ports to free up.
    if (err == EINTR && attempt < 100) continue;  // libFuzzer's timer signal: a new connection
    if (err == EADDRNOTAVAIL && attempt < 100) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    fuzz::fail(std::string("the server stopped accepting: ") + std::strerror(err));
  }
}

// Sends `bytes`, closes the sending side, reads until the server closes.
std::string exchange(std::string_view bytes) {
  const int fd = connect_to(server().port);
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server may close early (after refusing the request)
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string got;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      fuzz::fail("the server neither answered nor closed");
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return got;
}

void check_answers(std::string_view got) {
  // Every answer starts with a status line; none is a 500 (a handler or the server failing). The
  // server's deliberate 5xx answers stay allowed: 501 (a transfer coding it does not take), 503 (over
  // the connection cap) and 505 (HTTP/2 and later).
  std::size_t at = 0;
  while ((at = got.find("HTTP/1.", at)) != std::string_view::npos) {
    if (at + 12 > got.size()) fuzz::fail("a truncated status line");
    const std::string_view code = got.substr(at + 9, 3);
    if (code[0] == '5' && code != "501" && code != "503" && code != "505")
      fuzz::fail("the server answered " + std::string(got.substr(at, 12)));
    at += 12;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_answers(exchange(bytes));
  static std::size_t runs = 0;
  if (++runs % 256 == 0 && exchange("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200", 0) != 0)
    fuzz::fail("the server stopped answering /healthz");
  return 0;
}
