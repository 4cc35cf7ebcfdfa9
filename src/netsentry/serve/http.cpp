// <utility> first: Boost 1.74's Beast uses std::exchange without including it (GCC 12).
#include <utility>
// (the order matters here)
#include "netsentry/serve/http.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <regex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace netsentry::serve::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Message = bhttp::request<bhttp::string_body>;

namespace {

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }
beast::string_view bsv(std::string_view s) { return {s.data(), s.size()}; }

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::size_t kDrainBytes = 64u << 20;  // at most this much of a refused body is read and dropped
constexpr std::chrono::seconds kDrainTime{2};
constexpr std::chrono::milliseconds kSweep{250};

// The request header at the start of `b`: up to its empty line (ended by CRLF or by a bare LF), or
// all of `b`.
std::string_view header_part(std::string_view b) {
  const std::size_t crlf = b.find("\r\n\r\n"), lf = b.find("\n\n");
  if (crlf != std::string_view::npos && crlf < lf) return b.substr(0, crlf + 4);
  return lf == std::string_view::npos ? b : b.substr(0, lf + 2);
}

// Whether a line of `h` ends with LF alone or CR alone (HTTP lines end with CRLF).
bool bare_line_ending(std::string_view h) {
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (h[i] == '\n' && (i == 0 || h[i - 1] != '\r')) return true;
    if (h[i] == '\r' && i + 1 < h.size() && h[i + 1] != '\n') return true;
  }
  return false;
}

// Whether a header line of `h` continues the previous one (obsolete line folding: a line starting
// with a space or tab), which Beast would join into the previous value.
bool obsolete_line_folding(std::string_view h) {
  for (std::size_t i = h.find('\n'); i != std::string_view::npos && i + 1 < h.size(); i = h.find('\n', i + 1))
    if (h[i + 1] == ' ' || h[i + 1] == '\t') return true;
  return false;
}

// The version of a request line ("HTTP/2.0") when it has the form HTTP/digit.digit with a major
// version other than 1; otherwise empty. Such a version is refused with 505, not 400.
std::string_view other_major_version(std::string_view b) {
  std::string_view line = b.substr(0, b.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const std::size_t sp = line.rfind(' ');
  if (sp == std::string_view::npos) return {};
  const std::string_view v = line.substr(sp + 1);
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !digit(v[5]) || v[6] != '.' || !digit(v[7]) ||
      v[5] == '1')
    return {};
  return v;
}

// What a parse error of Beast's means for the client (the texts quote nothing from the request).
std::string malformed_message(const beast::error_code& ec) {
  std::string why;
  switch (static_cast<bhttp::error>(ec.value())) {
    case bhttp::error::bad_method:
      why = "the method is not a token";
      break;
    case bhttp::error::bad_target:
      why = "the request target is empty or has a character that is not allowed";
      break;
    case bhttp::error::bad_version:
      why = "the request line is not METHOD SP TARGET SP HTTP/1.1 (or HTTP/1.0)";
      break;
    case bhttp::error::bad_field:
      why =
          "a header name is empty or has a character that is not allowed (a space, a control or non-ASCII "
          "byte, a separator)";
      break;
    case bhttp::error::bad_value:
      why = "a header value has a control byte";
      break;
    case bhttp::error::bad_line_ending:
      why = "a line does not end with CRLF";
      break;
    case bhttp::error::bad_content_length:
      why = "Content-Length is not one decimal number (or two of them differ)";
      break;
    case bhttp::error::bad_transfer_encoding:
      why =
          "Transfer-Encoding is not valid here: it must end with chunked, once, and not come with a "
          "Content-Length";
      break;
    case bhttp::error::bad_chunk:
      why = "a chunk size is not hexadecimal, or a chunk does not end with CRLF";
      break;
    case bhttp::error::bad_chunk_extension:
      why = "a chunk extension is malformed";
      break;
    case bhttp::error::bad_obs_fold:
      why = "obsolete line folding is malformed";
      break;
    default:
      why = ec.message();
  }
  return "malformed HTTP request: " + why;
}

// The path and query of a request target: the target itself in origin form ("/path?q"), the part
// after the authority in absolute form ("http://host/path?q", which a server must accept; "/" when
// it has no path). Other forms (authority "host:443", asterisk "*") have none.
std::optional<std::string_view> origin_part(std::string_view t) {
  if (!t.empty() && t.front() == '/') return t;
  const std::size_t colon = t.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  std::string scheme(t.substr(0, colon));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  const std::size_t authority = colon + 3;
  const std::size_t path = t.find_first_of("/?", authority);
  if (path == authority) return std::nullopt;  // no host
  if (path == std::string_view::npos) return std::string_view("/");
  if (t[path] == '?') return std::nullopt;  // "http://host?q": a query without a path is refused
  return t.substr(path);
}

}  // namespace

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string_view Request::header(std::string_view name) const {
  if (!native) return {};
  const auto& m = *static_cast<const Message*>(native);
  auto it = m.find(bsv(name));
  return it == m.end() ? std::string_view() : sv(it->value());
}

bool Request::has_header(std::string_view name) const {
  if (!native) return false;
  const auto& m = *static_cast<const Message*>(native);
  return m.find(bsv(name)) != m.end();
}

std::optional<std::string> Request::param(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    const std::size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    if (url_decode(key) == name)
      return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
  }
  return std::nullopt;
}

namespace {

// Route paths looked up by string_view without a copy.
struct PathHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct RouteEntry {
  std::string method;
  Handler handler;
};
struct PatternRoute {
  std::string method;
  std::regex re;
  Handler handler;
};

class Session;

// One event loop: a thread, its io_context and the connections it owns. (Member order: the
// sessions outlive the io_context, whose destruction may destroy the last references to them.)
struct Loop {
  std::unordered_set<Session*> sessions;
  std::atomic<int> connections{0};  // read by the accepting loop
  // After stop(): when the connections still open are closed, and whether they have been.
  std::optional<Clock::time_point> hard_stop;
  bool closed_all = false;
  asio::io_context ioc{1};
  asio::steady_timer sweep{ioc};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard{asio::make_work_guard(ioc)};
  std::thread thread;
};

}  // namespace

struct HttpServer::Impl {
  HttpServer& self;
  Limits lim;
  std::unordered_map<std::string, std::vector<RouteEntry>, PathHash, std::equal_to<>> exact;
  std::vector<PatternRoute> patterns;
  // Admitted connections over all loops (at most lim.max_connections). Declared before the loops:
  // sessions freed with a loop's io_context count themselves out here.
  std::atomic<int> open_connections{0};
  std::vector<std::unique_ptr<Loop>> loops;
  std::unique_ptr<asio::thread_pool> pool;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  std::atomic<bool> stopping{false}, is_running{false}, grace_over_logged{false};

  Impl(HttpServer& s, Limits l) : self(s), lim(l) {
    const int n = std::max(1, lim.io_threads);
    for (int i = 0; i < n; ++i) loops.push_back(std::make_unique<Loop>());
    pool = std::make_unique<asio::thread_pool>(static_cast<std::size_t>(std::max(1, lim.workers)));
    acceptor.emplace(loops[0]->ioc);
    accept_retry.emplace(loops[0]->ioc);
  }

  std::string error_body(int status, const std::string& message) const {
    if (self.error_body) return self.error_body(status, message);
    return message;
  }

  // The handler for a request, or the status of why there is none (404, 405).
  struct Found {
    const Handler* handler = nullptr;
    int status = 404;
    std::string allow;
  };
  Found find(Request& req) const {
    Found f;
    if (auto it = exact.find(req.path); it != exact.end()) {
      for (const auto& r : it->second) {
        if (r.method == req.method) {
          f.handler = &r.handler;
          return f;
        }
        f.allow += (f.allow.empty() ? "" : ", ") + r.method;
      }
      f.status = 405;
      return f;
    }
    std::smatch m;
    const std::string path(req.path);
    for (const auto& r : patterns) {
      if (!std::regex_match(path, m, r.re)) continue;
      if (r.method != req.method) {
        f.allow += (f.allow.empty() ? "" : ", ") + r.method;
        f.status = 405;
        continue;
      }
      req.matches.assign(m.begin(), m.end());
      f.handler = &r.handler;
      return f;
    }
    return f;
  }

  void accept();
  void arm_sweep(Loop& l);
  void stop_loop(Loop& l);
};

namespace {

// One connection, owned by its loop: every member is touched only on the loop's thread, except
// the request and answer while a handler runs on the worker pool (the loop leaves them alone then).
class Session : public std::enable_shared_from_this<Session> {
 public:
  enum class State { Idle, Reading, Handling, Writing, Draining };
  // Why a request was cut off while it was arriving (answered 408).
  enum class Cut { None, Deadline, Rate };

  // `admitted`: counted in the server's open connections; otherwise the connection came over
  // max_connections and is only answered 503.
  Session(HttpServer::Impl& srv, Loop& loop, tcp::socket s, bool admitted)
      : srv_(srv), loop_(loop), sock_(std::move(s)), admitted_(admitted) {
    ++loop_.connections;
  }
  ~Session() {
    loop_.sessions.erase(this);
    --loop_.connections;
    if (admitted_) --srv_.open_connections;
  }

  void start() {
    loop_.sessions.insert(this);
    if (srv_.stopping) return close();  // (accepted just before the stop; the loop may be ending)
    if (!admitted_) return refuse_busy();
    read_header();
  }

  // Cancels everything pending; the session ends when its handlers have run.
  void close() {
    beast::error_code ec;
    sock_.close(ec);
  }
  // Waiting for a request of which nothing has arrived (safe to close when stopping).
  bool idle_empty() const { return state_ == State::Idle && buf_.size() == 0; }

  // The loop's sweep: a request past request_timeout or below the minimum rate is cut off (its
  // pending read is cancelled, and its completion answers 408); a connection past its deadline
  // (idle, silent, or not taking an answer) is closed. A request on the worker pool is left alone.
  void sweep(Clock::time_point now) {
    if (state_ == State::Handling) return;
    if (receiving()) {
      if (cut_ != Cut::None) return;  // the cancelled read has yet to complete
      if (now > request_deadline_) return cut(Cut::Deadline);
      if (too_slow(now)) return cut(Cut::Rate);
    }
    if (now > deadline_) close();
  }

 private:
  // Part of a request has arrived and the rest is being read.
  bool receiving() const {
    return state_ == State::Reading || (state_ == State::Idle && request_start_ != Clock::time_point{});
  }
  bool too_slow(Clock::time_point now) const {
    const std::size_t rate = srv_.lim.min_body_bytes_per_second;
    if (rate == 0 || state_ != State::Reading || now - body_start_ < srv_.lim.read_timeout) return false;
    const double seconds = std::chrono::duration<double>(now - body_start_).count();
    return static_cast<double>(body_bytes_) < static_cast<double>(rate) * seconds;
  }
  void cut(Cut why) {
    cut_ = why;
    beast::error_code ec;
    sock_.cancel(ec);
  }

  void read_header() {
    state_ = State::Idle;
    cut_ = Cut::None;
    request_start_ = {};
    method_.clear();
    header_scanned_ = 0;
    deadline_ = Clock::now() + (first_ ? srv_.lim.read_timeout : srv_.lim.keep_alive_timeout);
    if (srv_.stopping && buf_.size() == 0) return close();
    parser_.emplace();
    // (Beast's limit is a backstop: parse_header refuses a header over max_header_bytes itself.)
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(srv_.lim.max_header_bytes + 1024, UINT32_MAX)));
    parser_->body_limit(srv_.lim.max_body_bytes);
    if (buf_.size() > 0) begin_request(Clock::now());  // pipelined: the next request is here already
    parse_header();
  }

  // The first bytes of a request arrived at `now`: the whole of it is due by request_timeout.
  void begin_request(Clock::time_point now) {
    request_start_ = now;
    request_deadline_ = now + srv_.lim.request_timeout;
  }

  // Whether what was received holds a whole header (up to its empty line, ended by CRLF or a bare
  // LF: header_end_) or more than a header may be. (Searched from where the last search ended.)
  bool header_received() {
    const std::string_view b(static_cast<const char*>(buf_.data().data()), buf_.size());
    const std::size_t from = header_scanned_ >= 3 ? header_scanned_ - 3 : 0;
    header_scanned_ = b.size();
    const std::size_t crlf = b.find("\r\n\r\n", from), lf = b.find("\n\n", from);
    header_end_ = std::min(crlf == std::string_view::npos ? crlf : crlf + 4,
                           lf == std::string_view::npos ? lf : lf + 2);
    return header_end_ != std::string_view::npos || b.size() > srv_.lim.max_header_bytes;
  }

  // Parses what was received once it holds the whole header (so that Beast parses it in one piece and
  // the checks below see all of its bytes); reads more until then. (Read piece by piece rather than
  // by async_read_header so that each piece is seen: the first starts the request's deadline, each
  // one renews the read_timeout.)
  void parse_header() {
    if (buf_.size() > 0 && header_received()) {
      const std::string_view received(static_cast<const char*>(buf_.data().data()), buf_.size());
      // Over the limit: 414 when the request line alone is, else 431 (decided here, on the bytes:
      // Beast's own limit depends on how the header was split into reads).
      const std::size_t limit = srv_.lim.max_header_bytes;
      if (header_end_ == std::string_view::npos || header_end_ > limit) {
        if (received.substr(0, limit).find('\n') == std::string_view::npos)
          return refuse(414,
                        "request line (the URI) longer than serve.max_header_bytes = " +
                            std::to_string(limit) + " bytes",
                        false);
        return refuse(
            431, "request header larger than serve.max_header_bytes = " + std::to_string(limit) + " bytes",
            false);
      }
      beast::error_code ec;
      const std::size_t used = parser_->put(buf_.data(), ec);
      if (ec == bhttp::error::need_more) {
        buf_.consume(used);  // (not expected with a whole header; Beast asks for more)
        header_scanned_ = 0;
      } else {
        // What is wrong is told from the bytes as received, before they are consumed.
        const std::string_view header = header_part(received);
        std::optional<std::pair<int, std::string>> fault;
        if (ec && ec != bhttp::error::header_limit && ec != bhttp::error::body_limit) {
          if (const auto v = other_major_version(received); !v.empty())
            fault.emplace(505,
                          std::string(v) + " is not supported: this server speaks HTTP/1.1 (and HTTP/1.0)");
          else if (bare_line_ending(header))
            fault.emplace(400,
                          "malformed HTTP request: a line ends with a bare LF or CR (lines end with CRLF)");
        } else if (!ec && obsolete_line_folding(received.substr(0, used))) {
          fault.emplace(
              400,
              "malformed HTTP request: obsolete line folding (a header line starting with a space or "
              "tab) is not accepted");
        }
        buf_.consume(used);
        if (fault) return refuse(fault->first, fault->second, false);
        return on_header(ec);
      }
    }
    sock_.async_read_some(
        buf_.prepare(beast::read_size(buf_, 65536)),
        [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_header_bytes(ec, n); });
  }

  void on_header_bytes(beast::error_code ec, std::size_t n) {
    if (cut_ != Cut::None) return refuse_cut();
    buf_.commit(n);
    if (ec) {
      // The connection ended within a request header (its answer can still be read after a
      // half-close), or between requests (after at most empty lines, which RFC 9112 lets a server
      // ignore), or was closed.
      const std::string_view rest(static_cast<const char*>(buf_.data().data()), buf_.size());
      if (ec == asio::error::eof && rest.find_first_not_of("\r\n") != std::string_view::npos)
        return refuse(400, "the connection ended within the request header", false);
      return close();
    }
    const auto now = Clock::now();
    if (request_start_ == Clock::time_point{}) begin_request(now);
    deadline_ = now + srv_.lim.read_timeout;
    parse_header();
  }

  // A message the parser refused (not a connection that ended before or within one).
  static bool is_malformed(const beast::error_code& ec) {
    return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
           ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
  }

  void on_header(beast::error_code ec) {
    if (ec) {
      if (ec == bhttp::error::header_limit)
        return refuse(431,
                      "request header larger than serve.max_header_bytes = " +
                          std::to_string(srv_.lim.max_header_bytes) + " bytes",
                      false);
      // (An announced Content-Length over the limit fails the header already.)
      if (ec == bhttp::error::body_limit) return refuse_too_large();
      if (is_malformed(ec)) return refuse(400, malformed_message(ec), false);
      return close();
    }
    if (const auto fault = header_fault()) return refuse(fault->first, fault->second, false);
    started_ = Clock::now();
    state_ = State::Reading;
    body_start_ = started_;
    body_bytes_ = 0;
    const auto& m = parser_->get();
    method_ = std::string(sv(m.method_string()));
    version_ = m.version();
    const auto verb = m.method();
    const bool body_verb =
        verb == bhttp::verb::post || verb == bhttp::verb::put || verb == bhttp::verb::patch;
    const auto length = parser_->content_length();
    if (body_verb && !parser_->chunked() && !length)
      return refuse(411, "a request body needs a Content-Length (or chunked transfer encoding)", false);
    if (length && *length > srv_.lim.max_body_bytes) return refuse_too_large();
    auto expect = m.find(bhttp::field::expect);
    if (expect != m.end() && beast::iequals(expect->value(), "100-continue") && !parser_->is_done()) {
      state_ = State::Writing;
      deadline_ = Clock::now() + srv_.lim.read_timeout;
      asio::async_write(sock_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code e, std::size_t) {
                          if (e) return self->close();
                          self->state_ = State::Reading;
                          self->body_start_ = Clock::now();  // the client sends its body from now
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    if (parser_->is_done()) return dispatch();
    // The next piece is due within read_timeout; the whole request by request_deadline_ (the sweep).
    deadline_ = Clock::now() + srv_.lim.read_timeout;
    bhttp::async_read_some(
        sock_, buf_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t n) {
          if (self->cut_ != Cut::None) return self->refuse_cut();
          self->body_bytes_ += n;
          if (!ec) return self->read_body();
          if (ec == bhttp::error::body_limit) return self->refuse_too_large();
          if (ec == bhttp::error::partial_message)
            return self->refuse(400, "the connection ended before the whole request body arrived", false);
          if (is_malformed(ec)) return self->refuse(400, malformed_message(ec), false);
          self->close();
        });
  }

  void refuse_too_large() {
    refuse(413,
           "request body larger than serve.max_body_bytes = " + std::to_string(srv_.lim.max_body_bytes) +
               " bytes",
           true);
  }

  // What a well-formed header still may not be (status and message), checked before any body is read:
  // too many fields; no Host or two of them (RFC 9112 3.2); a transfer coding other than chunked
  // (Beast would read such a body as absent, and its bytes as the next request); a target that is
  // neither a path nor an absolute http URI.
  std::optional<std::pair<int, std::string>> header_fault() const {
    const auto& m = parser_->get();
    std::size_t fields = 0, hosts = 0;
    std::vector<std::string> codings;
    for (const auto& f : m) {
      ++fields;
      if (f.name() == bhttp::field::host) ++hosts;
      if (f.name() != bhttp::field::transfer_encoding) continue;
      std::string_view v = sv(f.value());
      while (!v.empty()) {
        const std::size_t comma = v.find(',');
        std::string_view c = v.substr(0, comma);
        v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
        while (!c.empty() && (c.front() == ' ' || c.front() == '\t')) c.remove_prefix(1);
        while (!c.empty() && (c.back() == ' ' || c.back() == '\t')) c.remove_suffix(1);
        if (!c.empty()) codings.emplace_back(c);
      }
    }
    if (fields > static_cast<std::size_t>(srv_.lim.max_header_fields))
      return std::pair{431, "more than serve.max_header_fields = " +
                                std::to_string(srv_.lim.max_header_fields) + " header fields"};
    if (hosts > 1) return std::pair{400, std::string("more than one Host header")};
    if (hosts == 0 && m.version() >= 11)
      return std::pair{400, std::string("an HTTP/1.1 request needs a Host header")};
    if (!codings.empty()) {
      if (!beast::iequals(bsv(codings.back()), "chunked"))
        return std::pair{400, std::string("Transfer-Encoding must end with chunked")};
      if (codings.size() > 1)
        return std::pair{501, std::string("Transfer-Encoding other than chunked is not supported")};
    }
    if (!origin_part(sv(m.target())))
      return std::pair{400, std::string("the request target must be a path (/...) or an absolute http URI")};
    return std::nullopt;
  }

  // A request cut off by the sweep while it was arriving. The client may still be sending (drain)
  // and may not be reading: it has kDrainTime to take the answer.
  void refuse_cut() {
    const auto& l = srv_.lim;
    const std::string message =
        cut_ == Cut::Rate ? "request body slower than serve.min_body_bytes_per_second = " +
                                std::to_string(l.min_body_bytes_per_second) + " (bytes per second on average)"
                          : "request not received within serve.request_timeout_seconds = " +
                                std::to_string(l.request_timeout.count()) + " s";
    refuse(408, message, true, kDrainTime);
  }

  // A connection over max_connections: answered without reading its request.
  void refuse_busy() {
    refuse(503,
           "too many connections: serve.max_connections = " + std::to_string(srv_.lim.max_connections) +
               " are open; try again shortly",
           true, kDrainTime, {{"Retry-After", "1"}});
  }

  // An answer the server gives itself; the connection closes after it (after reading and dropping
  // what the client still sends, when `drain`: a client still writing would otherwise get a reset
  // instead of the answer). The client has `take_within` (read_timeout by default) to take it.
  void refuse(int status, const std::string& message, bool drain,
              std::optional<Clock::duration> take_within = std::nullopt,
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    out_ = Response{};
    out_.status = status;
    out_.set_body(srv_.error_body(status, message), "application/json");
    out_.headers = std::move(headers);
    close_after_ = true;
    drain_ = drain;
    if (started_ == Clock::time_point{}) started_ = Clock::now();
    write(take_within);
  }

  void dispatch() {
    state_ = State::Handling;
    msg_ = parser_->release();
    parser_.reset();
    req_ = Request{};
    req_.native = &msg_;
    req_.method = method_;
    req_.target = origin_part(sv(msg_.target())).value_or("/");  // (checked by header_fault)
    const std::size_t q = req_.target.find('?');
    req_.path = req_.target.substr(0, q);
    req_.query = q == std::string_view::npos ? std::string_view() : req_.target.substr(q + 1);
    req_.body = std::move(msg_.body());
    keep_alive_ = msg_.keep_alive();
    out_ = Response{};
    auto found = srv_.find(req_);
    if (!found.handler) {
      out_.status = found.status;
      out_.set_body(srv_.error_body(found.status,
                                    found.status == 404
                                        ? "not found"
                                        : "method not allowed on this path (allowed: " + found.allow + ")"),
                    "application/json");
      if (!found.allow.empty()) out_.set_header("Allow", found.allow);
      return write();
    }
    if (req_.body.size() <= srv_.lim.inline_body_bytes) {
      run([&] { (*found.handler)(req_, out_); });
      if (!out_.defer) return write();
      return to_pool(nullptr);
    }
    to_pool(found.handler);
  }

  // The handler `h` (when not null), then the work it deferred, on the worker pool; the answer is
  // written by the loop. (The work guard keeps the loop running meanwhile.)
  void to_pool(const Handler* h) {
    asio::post(*srv_.pool,
               [self = shared_from_this(), h, guard = asio::make_work_guard(loop_.ioc)]() mutable {
                 Session& s = *self;
                 if (h) s.run([&] { (*h)(s.req_, s.out_); });
                 if (s.out_.defer) {
                   const auto rest = std::exchange(s.out_.defer, nullptr);
                   s.run([&] { rest(s.out_); });
                 }
                 auto& ioc = self->loop_.ioc;
                 asio::post(ioc, [self = std::move(self)] { self->write(); });
                 guard.reset();
               });
  }

  // Runs f() (a handler, or the work it deferred); what escapes it is answered 500.
  template <class F>
  void run(F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      internal_error(e.what());
    } catch (...) {
      internal_error("unknown exception");
    }
  }
  void internal_error(const char* what) {
    if (srv_.self.on_exception) srv_.self.on_exception(method_, out_.tag, what);
    const int tag = out_.tag;
    out_ = Response{};
    out_.tag = tag;
    out_.status = 500;
    out_.set_body(srv_.error_body(500, "internal error"), "application/json");
  }

  // Writes out_; the client has `take_within` (read_timeout by default) to take it.
  void write(std::optional<Clock::duration> take_within = std::nullopt) {
    state_ = State::Writing;
    deadline_ = Clock::now() + take_within.value_or(srv_.lim.read_timeout);
    res_ = {};
    res_.version(version_ ? version_ : 11);
    res_.result(static_cast<unsigned>(out_.status));
    for (const auto& [k, v] : srv_.self.default_headers) res_.set(bsv(k), bsv(v));
    if (!out_.content_type.empty()) res_.set(bhttp::field::content_type, bsv(out_.content_type));
    for (const auto& [k, v] : out_.headers) res_.insert(bsv(k), bsv(v));
    res_.body() = std::move(out_.body);
    res_.keep_alive(keep_alive_ && !close_after_ && !srv_.stopping);
    res_.prepare_payload();
    bhttp::async_write(sock_, res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_written(ec);
    });
  }

  void on_written(beast::error_code ec) {
    if (srv_.self.after)
      srv_.self.after(method_, out_, std::chrono::duration<double>(Clock::now() - started_).count());
    started_ = {};
    const bool keep_alive = res_.keep_alive();
    // An idle connection keeps no request or answer (an upload may have been megabytes).
    req_ = Request{};
    msg_ = {};
    res_ = {};
    if (ec) return close();
    if (drain_) return start_drain();
    if (!keep_alive) {
      sock_.shutdown(tcp::socket::shutdown_send, ec);
      return close();
    }
    first_ = false;
    read_header();
  }

  void start_drain() {
    beast::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_send, ec);
    state_ = State::Draining;
    deadline_ = Clock::now() + kDrainTime;
    buf_.clear();
    drain_some();
  }
  void drain_some() {
    if (!scratch_) scratch_ = std::make_unique<std::array<char, 16384>>();
    sock_.async_read_some(asio::buffer(*scratch_),
                          [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                            self->drained_ += n;
                            if (ec || self->drained_ > kDrainBytes) return self->close();
                            self->drain_some();
                          });
  }

  HttpServer::Impl& srv_;
  Loop& loop_;
  tcp::socket sock_;
  beast::flat_buffer buf_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Message msg_;
  Request req_;
  Response out_;
  bhttp::response<bhttp::string_body> res_;
  std::string method_;
  unsigned version_ = 11;
  State state_ = State::Idle;
  Cut cut_ = Cut::None;
  // deadline_: of the current wait (idle, the next piece, the answer taken); request_deadline_: of the
  // whole request that started arriving at request_start_ (not yet: {}); body_start_: when its body
  // began (the minimum rate is measured from there); started_: its header read (the after-hook).
  Clock::time_point deadline_{}, request_start_{}, request_deadline_{}, body_start_{}, started_{};
  std::size_t body_bytes_ = 0;      // of the body so far (as received: chunked framing included)
  std::size_t header_scanned_ = 0;  // bytes of the buffer searched for the end of the header
  std::size_t header_end_ = std::string_view::npos;  // where the header ends in the buffer (npos: not yet)
  const bool admitted_;
  bool first_ = true, keep_alive_ = true, close_after_ = false, drain_ = false;
  std::size_t drained_ = 0;
  std::unique_ptr<std::array<char, 16384>> scratch_;
};

}  // namespace

void HttpServer::Impl::accept() {
  // The next connection goes to the loop with the fewest, the accepting loop on a tie: a lone
  // client's connections stay on the thread that accepted them (no other thread to wake), many
  // clients spread evenly.
  Loop* least = loops[0].get();
  for (auto& l : loops)
    if (l->connections < least->connections) least = l.get();
  Loop& target = *least;
  acceptor->async_accept(target.ioc, [this, &target](beast::error_code ec, tcp::socket s) {
    if (ec) {
      if (stopping || ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      // Out of descriptors, or the like: try again shortly rather than spin.
      spdlog::warn("accepting a connection failed: {}", ec.message());
      accept_retry->expires_after(std::chrono::milliseconds(100));
      accept_retry->async_wait([this](beast::error_code e) {
        if (!e && !stopping) accept();
      });
      return;
    }
    beast::error_code ignored;
    s.set_option(tcp::no_delay(true), ignored);
    // Over max_connections the connection is answered 503 (by its session) and not counted.
    const bool admitted = open_connections.fetch_add(1) < lim.max_connections;
    if (!admitted) --open_connections;
    if (&target == loops[0].get()) {
      std::make_shared<Session>(*this, target, std::move(s), admitted)->start();
    } else {
      ++target.connections;  // counted now, so that the next accept sees it
      asio::post(target.ioc, [this, &target, admitted, s = std::move(s)]() mutable {
        --target.connections;
        std::make_shared<Session>(*this, target, std::move(s), admitted)->start();
      });
    }
    accept();
  });
}

void HttpServer::Impl::arm_sweep(Loop& l) {
  l.sweep.expires_after(kSweep);
  l.sweep.async_wait([this, &l](beast::error_code ec) {
    if (ec) return;
    const auto now = Clock::now();
    // (A copy: what a session does here never ends it at once, but the set is not walked meanwhile.)
    const std::vector<Session*> all(l.sessions.begin(), l.sessions.end());
    if (l.hard_stop && now >= *l.hard_stop) {
      if (all.empty()) return;
      if (l.closed_all) {
        // A sweep after closing everything: what is left waits for a handler on the worker pool.
        // The loop ends without it; the handler's answer is dropped, and its session (kept alive
        // by the pool meanwhile) is freed with the loop.
        l.ioc.stop();
        return;
      }
      if (!grace_over_logged.exchange(true))
        spdlog::warn("shutdown grace of {} s is over: closing the connections still open",
                     lim.shutdown_grace.count());
      for (Session* s : all) s->close();
      l.closed_all = true;
      return arm_sweep(l);
    }
    for (Session* s : all) {
      if (stopping && s->idle_empty())
        s->close();
      else
        s->sweep(now);
    }
    if (stopping && l.sessions.empty()) return;  // nothing left: the loop may end
    arm_sweep(l);
  });
}

void HttpServer::Impl::stop_loop(Loop& l) {
  l.hard_stop = Clock::now() + lim.shutdown_grace;
  std::vector<Session*> idle;
  for (Session* s : l.sessions)
    if (s->idle_empty()) idle.push_back(s);
  for (Session* s : idle) s->close();
  l.guard.reset();
}

HttpServer::HttpServer(Limits limits) : impl_(std::make_unique<Impl>(*this, limits)) {}

HttpServer::~HttpServer() {
  stop();
  if (impl_->pool) {
    impl_->pool->stop();
    impl_->pool->join();
  }
}

void HttpServer::route(std::string_view method, std::string path, Handler h) {
  impl_->exact[std::move(path)].push_back({std::string(method), std::move(h)});
}

void HttpServer::route_pattern(std::string_view method, const std::string& regex, Handler h) {
  impl_->patterns.push_back({std::string(method), std::regex(regex), std::move(h)});
}

int HttpServer::bind(const std::string& host, int port) {
  auto& a = *impl_->acceptor;
  if (a.is_open()) return a.local_endpoint().port();
  beast::error_code ec;
  tcp::resolver resolver(impl_->loops[0]->ioc);
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) throw std::runtime_error("cannot resolve " + host + ": " + ec.message());
  const tcp::endpoint ep = results.begin()->endpoint();
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    a.close(ignored);
    throw std::runtime_error(ec.message());
  }
  return a.local_endpoint().port();
}

void HttpServer::run() {
  auto& im = *impl_;
  if (!im.acceptor->is_open()) throw std::logic_error("HttpServer::run before bind");
  if (!im.stopping) im.accept();
  for (auto& l : im.loops) im.arm_sweep(*l);
  for (std::size_t i = 1; i < im.loops.size(); ++i) {
    Loop& l = *im.loops[i];
    l.thread = std::thread([&l] { l.ioc.run(); });
  }
  im.is_running = true;
  im.loops[0]->ioc.run();
  for (std::size_t i = 1; i < im.loops.size(); ++i)
    if (im.loops[i]->thread.joinable()) im.loops[i]->thread.join();
  im.is_running = false;
}

void HttpServer::stop() {
  auto& im = *impl_;
  if (im.stopping.exchange(true)) return;
  asio::post(im.loops[0]->ioc, [&im] {
    beast::error_code ignored;
    im.acceptor->close(ignored);
    im.accept_retry->cancel();
  });
  for (auto& l : im.loops) asio::post(l->ioc, [&im, &l = *l] { im.stop_loop(l); });
}

bool HttpServer::running() const { return impl_->is_running; }

}  // namespace netsentry::serve::http
