// The HTTP proxy of box URLs (lib/local/http_proxy.cpp), through its public
// boundary: a real HttpProxy on a loopback port in front of a real upstream
// socket. The input is what a client sends, then (after a line "%%") what
// the box's server answers: both are untrusted.
//
// Properties: no crash or sanitizer report in the proxy's threads, the host
// handed to the resolver is lower-case without a port or trailing dot, and
// every connection ends (the client's write side is closed after its bytes,
// so the proxy must answer and close within the deadline, never hang).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <mutex>
#include <regex>
#include <string>
#include <thread>

#include "fuzz_support.hpp"
#include "local/http_proxy.hpp"

namespace {

using boxd::fuzz::require;

constexpr int k_deadline_ms = 10000;

std::mutex g_mutex;
std::string g_answer;  // what the upstream sends for the current input

void close_hard(int fd) {  // RST instead of TIME_WAIT: thousands of connections per run
  const linger hard{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(fd);
}

bool wait_readable(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, k_deadline_ms) == 1;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

int listen_loopback(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  require(fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
              ::listen(fd, 64) == 0 &&
              ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0,
          "the upstream listens");
  port = ntohs(sa.sin_port);
  return fd;
}

// The box's server: per connection, reads a request head, sends the
// input's answer, half-closes, drains until the proxy closes.
[[noreturn]] void upstream_loop(int listen_fd) {
  for (;;) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    std::string answer;
    {
      std::lock_guard lock(g_mutex);
      answer = g_answer;
    }
    std::string got;
    char buffer[4096];
    while (got.find("\r\n\r\n") == std::string::npos && wait_readable(fd)) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        break;
      }
      got.append(buffer, static_cast<std::size_t>(n));
    }
    send_all(fd, answer);
    ::shutdown(fd, SHUT_WR);
    while (wait_readable(fd) && ::recv(fd, buffer, sizeof buffer, 0) > 0) {
    }
    close_hard(fd);
  }
}

boxd::local::ProxyRoute route(const std::string& host) {
  static const std::regex k_host(R"([a-z0-9._-]+|\[[0-9a-f:.]+\])");
  require(std::regex_match(host, k_host),
          "the resolver gets a lower-case name or [IPv6] without a port");
  require(host.back() != '.', "the resolver gets a host without a trailing dot");
  boxd::local::ProxyRoute r;
  if (host.starts_with("nobox")) {
    r.message = "no box";
    return r;
  }
  static int upstream_port = [] {
    int port = 0;
    const int fd = listen_loopback(port);
    std::thread(upstream_loop, fd).detach();
    return port;
  }();
  r.port = upstream_port;
  r.refuse_bots = host.find("bots") != std::string::npos;
  return r;
}

int proxy_port() {
  // Never destroyed: the proxy serves until the process exits.
  static auto* proxy = [] {
    auto* p = new boxd::local::HttpProxy("127.0.0.1", 0);
    p->start(route);
    return p;
  }();
  return proxy->port();
}

}  // namespace

// As in boxd's main(): a peer that goes away is an error code, not a signal.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  std::signal(SIGPIPE, SIG_IGN);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto part = boxd::fuzz::fields(boxd::fuzz::as_text(data, size), 2);
  {
    std::lock_guard lock(g_mutex);
    g_answer = part[1];
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<std::uint16_t>(proxy_port()));
  require(fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0,
          "the proxy accepts");
  send_all(fd, part[0]);
  ::shutdown(fd, SHUT_WR);
  char buffer[16384];
  for (;;) {
    require(wait_readable(fd), "the proxy answers and closes within the deadline");
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
      break;
    }
  }
  close_hard(fd);
  return 0;
}
