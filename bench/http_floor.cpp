// netsentry_http_floor PORT [THREADS] [BODY_BYTES]: the machine's ceiling for a load test.
//
// A do-nothing HTTP/1.1 keep-alive responder on 127.0.0.1:PORT: THREADS event loops (default: one
// per core), each with its own epoll set and its own SO_REUSEPORT listening socket, one recv per
// readable connection and one send per request, and a fixed 200 answer of BODY_BYTES bytes (default
// 192, the size of netsentry's one-row answer). It reads each request's header and Content-Length
// body and does nothing else: no routing, no parsing beyond that, no model. What `wrk` gets from it
// on a machine is the most any server can answer there with `wrk` on the same cores, so
// bench/compare_serving.sh prints it next to the two servers' figures. Not a server: it trusts
// its client (no limits, no timeouts) and is for benchmarks on loopback only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "netsentry_http_floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int listen_on(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind");
  if (::listen(fd, 1024) != 0) die("listen");
  return fd;
}

// Bytes of the first complete request at the front of `in`, or 0 while it is incomplete.
std::size_t complete_request(std::string_view in) {
  const auto end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) return 0;
  std::size_t body = 0;
  const std::string_view head = in.substr(0, end);
  for (std::size_t at = head.find("\r\n"); at != std::string_view::npos; at = head.find("\r\n", at + 2)) {
    const std::string_view line = head.substr(at + 2, head.find("\r\n", at + 2) - (at + 2));
    constexpr std::string_view key = "content-length:";
    if (line.size() <= key.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < key.size() && match; ++i)
      match = (line[i] | 0x20) == key[i];  // ASCII lower case; '-' and ':' are unchanged by it
    if (match) body = std::strtoull(std::string(line.substr(key.size())).c_str(), nullptr, 10);
  }
  const std::size_t total = end + 4 + body;
  return in.size() >= total ? total : 0;
}

void run_loop(int port, const std::string& answer) {
  const int listener = listen_on(port);
  const int ep = ::epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  std::unordered_map<int, std::string> pending;  // per connection: bytes of an unfinished request
  std::vector<epoll_event> events(64);
  std::string out;
  char buf[65536];
  for (;;) {
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    for (int e = 0; e < n; ++e) {
      const int fd = events[e].data.fd;
      if (fd == listener) {
        for (int c; (c = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
          const int one = 1;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
      if (got <= 0) {
        if (got < 0 && errno == EAGAIN) continue;
        pending.erase(fd);
        ::close(fd);
        continue;
      }
      std::string& in = pending[fd];
      in.append(buf, static_cast<std::size_t>(got));
      out.clear();
      std::size_t used = 0;
      for (std::size_t len; (len = complete_request(std::string_view(in).substr(used))) > 0;) {
        used += len;
        out += answer;
      }
      in.erase(0, used);
      // Answers are small and the client reads them: one send, blocking only in theory.
      for (std::size_t sent = 0; sent < out.size();) {
        const ssize_t s = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (s < 0 && errno == EAGAIN) continue;
        if (s < 0) break;
        sent += static_cast<std::size_t>(s);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: netsentry_http_floor PORT [THREADS] [BODY_BYTES]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int threads = argc > 2 ? std::atoi(argv[2]) : static_cast<int>(std::thread::hardware_concurrency());
  const std::size_t body_bytes = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 192;
  if (port <= 0 || port > 65535 || threads <= 0 || threads > 256 || body_bytes > (1u << 20)) {
    std::fprintf(stderr, "netsentry_http_floor: bad PORT, THREADS or BODY_BYTES\n");
    return 2;
  }
  const std::string answer =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body_bytes) +
      "\r\n\r\n" + std::string(body_bytes, ' ');
  std::vector<std::thread> loops;
  for (int t = 0; t < threads; ++t) loops.emplace_back(run_loop, port, std::cref(answer));
  for (auto& l : loops) l.join();
}
