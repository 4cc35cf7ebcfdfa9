#pragma once
// The HTTP/1.1 server under `netsentry serve`, on Boost.Beast (Debian's libboost-dev).
//
//   HttpServer http(limits);
//   http.route("POST", "/api/v1/predict", handler);             // exact path
//   http.route_pattern("GET", R"(/api/v1/train/([0-9a-f]+))", h); // a regular expression (captures)
//   int port = http.bind("127.0.0.1", 0);
//   http.run();                                                  // until stop(), from any thread
//
// Design: `limits.io_threads` event loops, each a thread with its own io_context that owns its
// connections from accept to close (a new connection goes to the loop with the fewest). A request is
// read, routed and answered on its connection's loop, with no hand-over between threads: a
// one-row prediction costs a few microseconds of handler work, less than waking another thread.
// Work that may take longer runs on a pool of `limits.workers` threads, and its answer is written by
// the loop again, so that no request holds up the other connections of its loop for long: a whole
// request when its body is over `limits.inline_body_bytes`, and the rest of a request when its
// handler leaves it in Response::defer (e.g. explanations that take milliseconds).
//
// Limits, answered with a JSON error from `error_body` before any handler runs: a body over
// max_body_bytes 413 (announced or chunked; the rest of the body is read and dropped for a while so
// that the client sees the answer), a header over max_header_bytes or with more than
// max_header_fields fields 431 (414 when the request line alone is over max_header_bytes), a
// POST/PUT/PATCH with neither Content-Length nor chunked encoding 411, a malformed request 400 saying
// what is wrong (bare LF or CR line endings, obsolete line folding, no Host or two of them, a
// transfer coding that does not end with chunked, a target that is neither a path nor an absolute
// http URI, a body cut short by the end of the connection), a transfer coding other than chunked
// 501, an HTTP version other than 1.x 505, an unknown path 404, a known path with another method
// 405 (with Allow). `Expect: 100-continue` is answered before the body is read.
//
// Deadlines (the sweep of each loop checks them every 250 ms): a connection that sends nothing for
// keep_alive_timeout between requests (read_timeout before its first), or is silent for longer than
// read_timeout within a request or while taking an answer, is closed. However a client paces its
// bytes, a request cannot hold its connection: the whole request, from its first header byte to its
// last body byte, must arrive within request_timeout (never renewed), and once a body has been
// arriving for read_timeout its average rate must be at least min_body_bytes_per_second. A request
// cut off by either is answered 408 with a JSON error naming the limit (the client has kDrainTime,
// 2 s, to take it) and its connection closed. A connection accepted while max_connections are open
// (over all loops) is answered 503 with Retry-After: 1 and closed. The messages name the `serve.`
// settings these limits come from.
//
// stop() stops accepting, closes idle connections and lets requests in flight finish (their
// connections close after the answer), for up to shutdown_grace: then every connection still open
// is closed whatever its state (a request being read, an answer being written, a handler running on
// the worker pool, whose answer is then dropped). run() returns when every connection is closed, and
// at the latest about half a second after the grace.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace netsentry::serve::http {

struct Request {
  std::string_view method;  // "GET", "POST", ...
  std::string_view target;  // the path and the query (of an absolute-form target: after the authority)
  std::string_view path;    // the target up to '?'
  std::string_view query;   // after '?', raw
  std::string body;
  std::vector<std::string> matches;  // a pattern route's captures ([0]: the whole path)

  std::string_view header(std::string_view name) const;  // "" when absent
  bool has_header(std::string_view name) const;
  // A query parameter, percent-decoded ('+' as space); nullopt when absent.
  std::optional<std::string> param(std::string_view name) const;

  const void* native = nullptr;  // the parsed message (http.cpp)
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  int tag = -1;  // what the route sets for the after-hook (netsentry: its route id); -1: no route
  // Set by a handler: the rest of the work, run on the worker pool before the answer is written.
  std::function<void(Response&)> defer;

  void set_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
  void set_body(std::string b, std::string type) {
    body = std::move(b);
    content_type = std::move(type);
  }
};

struct Limits {
  int io_threads = 2;
  int workers = 2;
  std::size_t max_body_bytes = 32u << 20;
  std::size_t max_header_bytes = 16u << 10;      // the request line and the header fields
  int max_header_fields = 100;                   // header fields of one request
  std::size_t inline_body_bytes = 256u << 10;    // larger bodies are handled on the worker pool
  std::chrono::seconds read_timeout{10};         // the longest silence within a request or an answer
  std::chrono::seconds keep_alive_timeout{5};    // the longest idle time between requests
  std::chrono::seconds request_timeout{60};      // a whole request: first header byte to last body byte
  std::size_t min_body_bytes_per_second = 1024;  // a body's average rate after read_timeout; 0: none
  int max_connections = 10000;                   // open connections over all loops
  std::chrono::seconds shutdown_grace{20};       // after stop(), what is still open then is closed
};

using Handler = std::function<void(Request&, Response&)>;

class HttpServer {
 public:
  explicit HttpServer(Limits limits);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void route(std::string_view method, std::string path, Handler h);
  void route_pattern(std::string_view method, const std::string& regex, Handler h);

  // The body of the errors the server answers itself (status, message).
  std::function<std::string(int, const std::string&)> error_body;
  // Headers added to every answer.
  std::vector<std::pair<std::string, std::string>> default_headers;
  // Called on the loop after an answer was written (or failed to be), with the seconds since the
  // request's header was read. Errors the server answers itself have tag -1.
  std::function<void(std::string_view method, const Response&, double seconds)> after;
  // Called with what a handler threw (other than through the handler's own error handling): the
  // answer is a 500.
  std::function<void(std::string_view method, int tag, const std::string& what)> on_exception;

  // Binds and listens; port 0: any free port. Returns the port; throws std::runtime_error.
  int bind(const std::string& host, int port);
  void run();   // serves until stop(); the calling thread runs the first loop
  void stop();  // from any thread, also before run()
  bool running() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Percent-decoding of a query component ('+' as space); invalid escapes are kept as they are.
std::string url_decode(std::string_view s);

}  // namespace netsentry::serve::http
