// <utility> first: Boost 1.74's Beast uses std::exchange without including it (GCC 12).
#include <utility>
// (the order matters here)
#include "netsentry/serve/probe.hpp"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "netsentry/core/error.hpp"
#include "netsentry/core/text.hpp"

namespace netsentry::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

[[noreturn]] void bad_url(std::string_view url, const std::string& why) {
  throw UsageError("healthcheck URL " + quote_value(url, 200) + ": " + why);
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

ProbeUrl parse_probe_url(std::string_view url) {
  for (unsigned char c : url)
    if (c <= ' ' || c == 0x7f) bad_url(url, "must not hold spaces or control characters");
  const std::string lower = ascii_lower(url.substr(0, std::min<std::size_t>(url.size(), 8)));
  if (lower.rfind("https://", 0) == 0)
    bad_url(url, "https is not supported: the probe asks the server beside it, which speaks plain HTTP");
  if (lower.rfind("http://", 0) != 0) bad_url(url, "expected http://HOST[:PORT][/PATH]");
  if (url.find('#') != std::string_view::npos) bad_url(url, "a fragment ('#...') is not sent to a server");
  const std::string_view rest = url.substr(7);
  const std::size_t end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, end);
  ProbeUrl u;
  u.text = std::string(url);
  u.target = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  if (u.target.front() == '?') u.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos)
    bad_url(url, "user information ('user@') is not supported");
  std::string_view host, port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) bad_url(url, "an IPv6 address must end with ']'");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') bad_url(url, "expected ':PORT' after the IPv6 address");
    if (!after.empty()) port = after.substr(1);
    if (!after.empty() && port.empty()) bad_url(url, "the port after ':' is empty");
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.find(':') != std::string_view::npos)
        bad_url(url, "an IPv6 address must be written in brackets (http://[::1]:8080/healthz)");
      if (port.empty()) bad_url(url, "the port after ':' is empty");
    }
  }
  if (host.empty()) bad_url(url, "the host is empty");
  if (!port.empty()) {
    if (!all_digits(port) || port.size() > 5 || std::stoi(std::string(port)) < 1 ||
        std::stoi(std::string(port)) > 65535)
      bad_url(url, "the port must be a number in 1..65535 (got " + quote_value(port) + ")");
  }
  u.host = std::string(host);
  u.port = port.empty() ? "80" : std::string(port);
  return u;
}

ProbeResult probe(const ProbeUrl& url, std::chrono::milliseconds timeout) {
  // Declared first, destroyed last: the operations still pending at the deadline are dropped with it.
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, url.target, 11};
  const bool v6 = url.host.find(':') != std::string::npos;
  const std::string host = v6 ? "[" + url.host + "]" : url.host;
  req.set(bhttp::field::host, url.port == "80" ? host : host + ":" + url.port);
  req.set(bhttp::field::user_agent, "netsentry-healthcheck/" NETSENTRY_VERSION);
  req.set(bhttp::field::connection, "close");
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kProbeMaxBody);

  const std::string too_large =
      "the answer's body is larger than " + std::to_string(kProbeMaxBody) + " bytes";
  ProbeResult result;
  bool done = false;
  auto fail = [&](ProbeOutcome o, std::string why) {
    result.outcome = o;
    result.error = std::move(why);
    done = true;
  };
  resolver.async_resolve(
      url.host, url.port, tcp::resolver::numeric_service,
      [&](const beast::error_code& ec, const tcp::resolver::results_type& endpoints) {
        if (ec)
          return fail(ProbeOutcome::Failed,
                      "cannot resolve host " + quote_value(url.host) + ": " + ec.message());
        stream.async_connect(endpoints, [&](const beast::error_code& ec, const tcp::endpoint&) {
          if (ec == asio::error::connection_refused)
            return fail(ProbeOutcome::Refused,
                        "connection refused (nothing listens on " + host + ":" + url.port + ")");
          if (ec)
            return fail(ProbeOutcome::Failed,
                        "cannot connect to " + host + ":" + url.port + ": " + ec.message());
          bhttp::async_write(stream, req, [&](const beast::error_code& ec, std::size_t) {
            if (ec) return fail(ProbeOutcome::Failed, "sending the request failed: " + ec.message());
            // Copied into the handlers below, which run after this one has returned.
            auto read_failed = [&](const beast::error_code& ec) {
              if (ec == bhttp::error::body_limit) return fail(ProbeOutcome::Failed, too_large);
              if (ec == bhttp::error::end_of_stream || ec == asio::error::eof)
                return fail(ProbeOutcome::Failed,
                            "the server closed the connection without a complete answer");
              fail(ProbeOutcome::Failed, "reading the answer failed: " + ec.message());
            };
            bhttp::async_read_header(
                stream, buffer, parser, [&, read_failed](const beast::error_code& ec, std::size_t) {
                  if (ec) return read_failed(ec);
                  // Boost 1.74's parser does not hold a Content-Length that arrives with its header against
                  // body_limit: checked here, before the body is read.
                  if (const auto n = parser.content_length(); n && *n > kProbeMaxBody)
                    return fail(ProbeOutcome::Failed, too_large);
                  bhttp::async_read(stream, buffer, parser,
                                    [&, read_failed](const beast::error_code& ec, std::size_t) {
                                      if (ec) return read_failed(ec);
                                      const auto& res = parser.get();
                                      result.outcome = ProbeOutcome::Answered;
                                      result.status = static_cast<int>(res.result_int());
                                      result.reason = std::string(res.reason());
                                      result.body = res.body();
                                      done = true;
                                    });
                });
          });
        });
      });
  ioc.run_for(timeout);
  if (!done) {
    result = {};
    result.outcome = ProbeOutcome::Timeout;
    result.error =
        "no answer within " + fmt::format("{:g}", static_cast<double>(timeout.count()) / 1e3) + " s";
  }
  return result;
}

std::string describe(const ProbeUrl& url, const ProbeResult& r) {
  if (r.outcome != ProbeOutcome::Answered) return url.text + ": " + r.error;
  std::string s = url.text + ": " + std::to_string(r.status) + (r.reason.empty() ? "" : " " + r.reason);
  if (r.status != 200) {
    s += ", expected 200";
    if (!r.body.empty()) s += " (body " + quote_value(r.body, 120) + ")";
  }
  return s;
}

}  // namespace netsentry::serve
