#pragma once
// One HTTP GET of an http:// URL within a deadline: what `netsentry healthcheck` asks of a running
// server (a container's HEALTHCHECK, a probe), on the same Boost.Beast as the server itself.
//
//   auto url = parse_probe_url("http://127.0.0.1:8080/healthz");   // UsageError when malformed
//   ProbeResult r = probe(url, std::chrono::seconds(2));
//   if (r.outcome == ProbeOutcome::Answered && r.status == 200) ...
//
// The deadline covers everything: resolving the host, connecting, sending the request and reading the
// whole answer (whose body is read up to kProbeMaxBody bytes; a larger one is a failure).
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace netsentry::serve {

struct ProbeUrl {
  std::string text;    // as given, for messages
  std::string host;    // a name, an IPv4 address or an IPv6 address (without its brackets)
  std::string port;    // digits; 80 when the URL names none
  std::string target;  // the path and the query; "/" when the URL names none
};

// Parses http://HOST[:PORT][/PATH[?QUERY]]. Anything else (another scheme, https included, user
// information, an empty host, a port that is not a number in 1..65535, a fragment) is a UsageError
// naming the URL and what is wrong with it.
ProbeUrl parse_probe_url(std::string_view url);

enum class ProbeOutcome {
  Answered,  // an HTTP answer came back: see status
  Refused,   // nothing listens there (connection refused)
  Timeout,   // no complete answer within the deadline
  Failed,    // the host did not resolve, the connection broke, the answer was not HTTP or too large
};

inline constexpr std::size_t kProbeMaxBody = 64 * 1024;

struct ProbeResult {
  ProbeOutcome outcome = ProbeOutcome::Failed;
  int status = 0;      // the HTTP status (Answered)
  std::string reason;  // the status line's reason phrase (Answered)
  std::string body;    // the answer's body (Answered)
  std::string error;   // what went wrong, in words (every other outcome)
};

ProbeResult probe(const ProbeUrl& url, std::chrono::milliseconds timeout);

// One line for a log: "http://127.0.0.1:8080/healthz: 200 OK" or
// "http://127.0.0.1:9/healthz: connection refused (nothing listens on 127.0.0.1:9)".
std::string describe(const ProbeUrl& url, const ProbeResult& r);

}  // namespace netsentry::serve
