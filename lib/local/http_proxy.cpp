// The HTTP reverse proxy that makes box URLs work: http://<box>.localhost:9480.
//
// How it works: one thread accepts connections; each connection gets a
// thread that reads the request head (up to the blank line, at most 64 KiB),
// takes the Host header, asks the resolver (BoxdService::route_host) where
// that host goes, connects to 127.0.0.1:<port> (boxes share the host's
// network namespace, so a box's port is a loopback port), sends the head on
// unchanged except for X-Forwarded-For/-Proto lines added after the request
// line, and from then on only splices bytes: the connection thread copies
// client -> upstream, a second thread copies upstream -> client. Nothing is
// buffered beyond one 64 KiB chunk per direction, so bodies stream both ways
// (uploads, server-sent events, WebSocket upgrades all pass through). When
// one side ends its writes, the other side's write half is shut down
// (half-close), and the connection ends when both directions are done.
//
// What can go wrong: an unknown host gets a 404 and an unreachable upstream
// a 502, each with a one-line text body, then the connection closes. Because
// the proxy splices after the first head, later requests on the same
// keep-alive connection go to the same upstream even if their Host differs;
// browsers and HTTP clients open one connection per origin, so this does not
// show in practice. stop() shuts down every open socket, which wakes the
// blocked reads, and waits for the connection threads to finish.
#include "local/http_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "common/error.hpp"

namespace boxd::local {

namespace {

constexpr std::size_t k_max_head_bytes = 64 * 1024;
constexpr std::size_t k_chunk_bytes = 64 * 1024;
constexpr int k_head_timeout_ms = 30000;

bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

void send_error(int fd, int status, const std::string& message) {
  const std::string body = message + "\n";
  const std::string response = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
                               "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  send_all(fd, response.data(), response.size());
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) {
    return "";
  }
  const auto end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

// The Host header's host, lower-cased, without port or trailing dot.
std::string host_of(const std::string& head) {
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    const std::size_t start = pos + 2;
    const std::size_t end = head.find("\r\n", start);
    const std::string line = head.substr(start, end == std::string::npos ? std::string::npos
                                                                         : end - start);
    const auto colon = line.find(':');
    if (colon != std::string::npos && lower(trim(line.substr(0, colon))) == "host") {
      std::string host = lower(trim(line.substr(colon + 1)));
      if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        host = close == std::string::npos ? host : host.substr(0, close + 1);
      } else if (const auto port = host.rfind(':'); port != std::string::npos) {
        host.resize(port);
      }
      while (!host.empty() && host.back() == '.') {
        host.pop_back();
      }
      return host;
    }
    pos = end;
  }
  return "";
}

std::string peer_address(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return "";
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, text, sizeof text);
  } else if (addr.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, text, sizeof text);
  }
  return text;
}

int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Copies from -> to until EOF or an error; then half-closes `to`. On an
// error both sockets are shut down so the other direction ends too.
void pump(int from, int to) {
  std::string buffer(k_chunk_bytes, '\0');
  for (;;) {
    const ssize_t n = ::recv(from, buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      if (n < 0) {
        ::shutdown(from, SHUT_RDWR);
        ::shutdown(to, SHUT_RDWR);
      } else {
        ::shutdown(to, SHUT_WR);
      }
      return;
    }
    if (!send_all(to, buffer.data(), static_cast<std::size_t>(n))) {
      ::shutdown(from, SHUT_RDWR);
      ::shutdown(to, SHUT_RDWR);
      return;
    }
  }
}

}  // namespace

HttpProxy::HttpProxy(const std::string& listen, int port) {
  const std::string host = listen.empty() || listen == "localhost" ? "127.0.0.1" : listen;
  const bool v6 = host.find(':') != std::string::npos;
  m_listen_fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (m_listen_fd < 0) {
    throw Error(ErrorClass::Internal, std::string("socket: ") + std::strerror(errno));
  }
  const int one = 1;
  ::setsockopt(m_listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  bool bound = false;
  if (v6) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(static_cast<std::uint16_t>(port));
    std::string bare = host;
    if (bare.front() == '[') {
      bare = bare.substr(1, bare.size() - 2);
    }
    bound = ::inet_pton(AF_INET6, bare.c_str(), &sa.sin6_addr) == 1 &&
            ::bind(m_listen_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    bound = ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) == 1 &&
            ::bind(m_listen_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  }
  if (!bound || ::listen(m_listen_fd, 128) != 0) {
    const std::string why = std::strerror(errno);
    ::close(m_listen_fd);
    m_listen_fd = -1;
    throw Error(ErrorClass::Connection,
                "cannot listen on " + host + ":" + std::to_string(port) + " (HTTP proxy): " + why,
                "use --proxy-port to choose another port");
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(m_listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  m_port = addr.ss_family == AF_INET6
               ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
               : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (::pipe2(m_wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    ::close(m_listen_fd);
    throw Error(ErrorClass::Internal, std::string("pipe2: ") + std::strerror(errno));
  }
}

HttpProxy::~HttpProxy() {
  stop();
  for (int fd : {m_listen_fd, m_wake_pipe[0], m_wake_pipe[1]}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

void HttpProxy::start(ProxyResolver resolver) {
  m_resolver = std::move(resolver);
  m_accept_thread = std::thread([this] { accept_loop(); });
}

void HttpProxy::stop() {
  if (m_stopping.exchange(true)) {
    return;
  }
  const char c = 'x';
  [[maybe_unused]] auto n = ::write(m_wake_pipe[1], &c, 1);
  if (m_accept_thread.joinable()) {
    m_accept_thread.join();
  }
  std::unique_lock lock(m_mutex);
  for (int fd : m_open_fds) {
    ::shutdown(fd, SHUT_RDWR);
  }
  m_idle.wait(lock, [this] { return m_active == 0; });
}

void HttpProxy::track(int fd, bool add) {
  std::lock_guard lock(m_mutex);
  if (add) {
    m_open_fds.insert(fd);
    if (m_stopping) {
      ::shutdown(fd, SHUT_RDWR);
    }
  } else {
    m_open_fds.erase(fd);
  }
}

void HttpProxy::accept_loop() {
  while (!m_stopping) {
    pollfd fds[2] = {{m_listen_fd, POLLIN, 0}, {m_wake_pipe[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if (fds[1].revents != 0) {
      return;
    }
    const int client = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      continue;
    }
    {
      std::lock_guard lock(m_mutex);
      ++m_active;
    }
    std::thread([this, client] {
      try {
        serve_connection(client);
      } catch (...) {
      }
      std::lock_guard lock(m_mutex);
      --m_active;
      m_idle.notify_all();
    }).detach();
  }
}

void HttpProxy::serve_connection(int client) {
  track(client, true);
  struct Closer {
    HttpProxy* self;
    int fd;
    ~Closer() {
      self->track(fd, false);
      ::close(fd);
    }
  } client_closer{this, client};

  // The request head.
  std::string head;
  std::size_t head_end = std::string::npos;
  char buffer[8192];
  while (head_end == std::string::npos) {
    if (head.size() > k_max_head_bytes) {
      send_error(client, 431, "request head too large");
      return;
    }
    pollfd pfd{client, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, k_head_timeout_ms);
    if (ready == 0) {
      send_error(client, 408, "request head not received in time");
      return;
    }
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    const ssize_t n = ready < 0 ? -1 : ::recv(client, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    head.append(buffer, static_cast<std::size_t>(n));
    head_end = head.find("\r\n\r\n");
  }

  const std::string host = host_of(head.substr(0, head_end + 2));
  if (host.empty()) {
    send_error(client, 400, "no Host header");
    return;
  }
  const ProxyRoute route = m_resolver ? m_resolver(host) : ProxyRoute{};
  if (route.port <= 0) {
    send_error(client, route.status,
               route.message.empty() ? "no box answers for host '" + host + "'" : route.message);
    return;
  }
  const int upstream = connect_loopback(route.port);
  if (upstream < 0) {
    send_error(client, 502,
               "bad gateway: nothing listens on port " + std::to_string(route.port) + " for '" +
                   host + "'");
    return;
  }
  track(upstream, true);
  struct UpCloser {
    HttpProxy* self;
    int fd;
    ~UpCloser() {
      self->track(fd, false);
      ::close(fd);
    }
  } upstream_closer{this, upstream};

  // Forward the head with X-Forwarded-* after the request line, then the
  // body bytes that came with it.
  const std::size_t line_end = head.find("\r\n");
  std::string forwarded = head.substr(0, line_end + 2);
  const std::string peer = peer_address(client);
  if (!peer.empty()) {
    forwarded += "X-Forwarded-For: " + peer + "\r\n";
  }
  forwarded += "X-Forwarded-Proto: http\r\n";
  forwarded += head.substr(line_end + 2);
  if (!send_all(upstream, forwarded.data(), forwarded.size())) {
    send_error(client, 502, "bad gateway: the upstream closed the connection");
    return;
  }

  std::thread back([client, upstream] { pump(upstream, client); });
  pump(client, upstream);
  back.join();
}

}  // namespace boxd::local
