// The HTTP reverse proxy that makes box URLs work: http://<box>.localhost:9480.
//
// How it works: one thread accepts connections; each connection gets a
// thread that serves its requests one after the other (HTTP/1.1 keep-alive).
// For every request it reads the head (up to the blank line, at most 64
// KiB), takes that request's own Host header, asks the resolver
// (BoxdService::route_host) where that host goes, and sends the request to
// the box's address and port (the box's bridge address with the namespace
// runtime, 127.0.0.1 with the process runtime) with X-Forwarded-For/-Proto
// lines added after the request line. The upstream connection is reused while
// consecutive requests go to the same box and port and replaced when one goes elsewhere, so two
// boxes can be reached over one client connection.
//
// Message framing follows RFC 9112: a body is delimited by Content-Length
// or chunked transfer coding (copied as is, chunk by chunk), a response
// without either runs until the upstream closes (and then the client
// connection ends too); HEAD, 1xx, 204 and 304 responses have no body.
// Bodies are streamed in bounded pieces, never buffered whole, so uploads
// and server-sent events pass through. An Upgrade request (WebSocket) or a
// 101 response turns the connection into a plain two-way splice, a second
// thread copying upstream -> client, with half-closes passed on. A
// `Connection: close` on either side (or HTTP/1.0 without keep-alive) ends
// the connection after the response. With bot protection on for the box
// (SetBotProtection), a request whose User-Agent is missing or names an
// automated client gets 403.
//
// What can go wrong: an unknown host gets a 404, an unreachable upstream a
// 502 and a malformed request a 400, each with a one-line text body, then
// the connection closes. Requests are relayed one at a time: a pipelining
// client waits for each response in turn, and an upstream that answers
// before reading the whole request body sees the body sent anyway. An idle
// keep-alive connection is closed after 30 s. stop() shuts down every open
// socket, which wakes the blocked reads, and waits for the connection
// threads to finish.
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
#include <memory>
#include <optional>

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
    case 403: return "Forbidden";
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

// The value of header `name` (lower-case) in a request head, trimmed; ""
// when absent.
std::string header_of(const std::string& head, const std::string& name) {
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    const std::size_t start = pos + 2;
    const std::size_t end = head.find("\r\n", start);
    const std::string line = head.substr(start, end == std::string::npos ? std::string::npos
                                                                         : end - start);
    const auto colon = line.find(':');
    if (colon != std::string::npos && lower(trim(line.substr(0, colon))) == name) {
      return trim(line.substr(colon + 1));
    }
    pos = end;
  }
  return "";
}

// Bot protection: a request without a User-Agent, or whose User-Agent names
// an automated client (crawlers, command-line tools, HTTP libraries).
bool looks_automated(const std::string& head) {
  const std::string agent = lower(header_of(head, "user-agent"));
  if (agent.empty()) {
    return true;
  }
  static const char* const k_markers[] = {"bot",    "crawl",  "spider",         "slurp",
                                          "curl/",  "wget/",  "python-requests", "python-urllib",
                                          "go-http-client", "libwww", "httpie", "scrapy"};
  for (const char* marker : k_markers) {
    if (agent.find(marker) != std::string::npos) {
      return true;
    }
  }
  return false;
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

int connect_upstream(const std::string& address, int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    return -1;
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
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

namespace {

// A socket with a read buffer: HTTP framing reads lines and exact counts,
// and whatever arrives beyond the current message stays for the next one.
class Conn {
 public:
  explicit Conn(int fd) : m_fd(fd) {}
  int fd() const { return m_fd; }
  std::string& buffer() { return m_buffer; }

  // Reads more bytes; `timeout_ms` < 0 waits forever. 1 = got some,
  // 0 = EOF, -1 = error, -2 = timeout.
  int fill(int timeout_ms) {
    for (;;) {
      if (timeout_ms >= 0) {
        pollfd pfd{m_fd, POLLIN, 0};
        const int ready = ::poll(&pfd, 1, timeout_ms);
        if (ready == 0) {
          return -2;
        }
        if (ready < 0) {
          if (errno == EINTR) {
            continue;
          }
          return -1;
        }
      }
      char chunk[16384];
      const ssize_t n = ::recv(m_fd, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return n == 0 ? 0 : -1;
      }
      m_buffer.append(chunk, static_cast<std::size_t>(n));
      return 1;
    }
  }

  // A message head (through the blank line) into `head`. Same codes as
  // fill(), plus -3 when the head exceeds k_max_head_bytes.
  int read_head(std::string& head, int timeout_ms) {
    for (;;) {
      const auto end = m_buffer.find("\r\n\r\n");
      if (end != std::string::npos) {
        head = m_buffer.substr(0, end + 4);
        m_buffer.erase(0, end + 4);
        return 1;
      }
      if (m_buffer.size() > k_max_head_bytes) {
        return -3;
      }
      const int got = fill(timeout_ms);
      if (got <= 0 || got == -2) {
        return got;
      }
    }
  }

  // One CRLF-terminated line (with its CRLF).
  bool read_line(std::string& line) {
    for (;;) {
      const auto end = m_buffer.find("\r\n");
      if (end != std::string::npos) {
        line = m_buffer.substr(0, end + 2);
        m_buffer.erase(0, end + 2);
        return true;
      }
      if (m_buffer.size() > k_max_head_bytes || fill(-1) <= 0) {
        return false;
      }
    }
  }

  // Copies exactly `count` bytes to `to` (buffer first, then the socket).
  bool copy_exact(std::uint64_t count, int to) {
    while (count > 0) {
      if (m_buffer.empty() && fill(-1) <= 0) {
        return false;
      }
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(count, m_buffer.size()));
      if (!send_all(to, m_buffer.data(), n)) {
        return false;
      }
      m_buffer.erase(0, n);
      count -= n;
    }
    return true;
  }

  // Copies until EOF.
  bool copy_to_eof(int to) {
    for (;;) {
      if (!m_buffer.empty() && !send_all(to, m_buffer.data(), m_buffer.size())) {
        return false;
      }
      m_buffer.clear();
      const int got = fill(-1);
      if (got == 0) {
        return true;
      }
      if (got < 0) {
        return false;
      }
    }
  }

  // Copies a chunked body (chunks, the last chunk and trailers) as is.
  bool copy_chunked(int to) {
    for (;;) {
      std::string line;
      if (!read_line(line) || !send_all(to, line.data(), line.size())) {
        return false;
      }
      std::uint64_t size = 0;
      try {
        size = std::stoull(line, nullptr, 16);
      } catch (...) {
        return false;
      }
      if (size == 0) {
        for (;;) {  // trailers up to the blank line
          if (!read_line(line) || !send_all(to, line.data(), line.size())) {
            return false;
          }
          if (line == "\r\n") {
            return true;
          }
        }
      }
      if (!copy_exact(size + 2, to)) {  // the data and its CRLF
        return false;
      }
    }
  }

 private:
  int m_fd;
  std::string m_buffer;
};

bool has_token(const std::string& value, const std::string& token) {
  std::size_t start = 0;
  const std::string text = lower(value);
  while (start <= text.size()) {
    auto end = text.find(',', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    if (trim(text.substr(start, end - start)) == token) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

enum class BodyKind { None, Length, Chunked, UntilClose };

struct Framing {
  BodyKind kind = BodyKind::None;
  std::uint64_t length = 0;
};

// How the body after `head` is delimited (RFC 9112 section 6.3).
// Requests without Content-Length or chunked encoding have no body.
std::optional<Framing> framing_of(const std::string& head, bool is_request) {
  if (has_token(header_of(head, "transfer-encoding"), "chunked")) {
    return Framing{BodyKind::Chunked, 0};
  }
  const std::string length = header_of(head, "content-length");
  if (!length.empty()) {
    if (!std::all_of(length.begin(), length.end(), [](unsigned char c) { return std::isdigit(c); }) ||
        length.size() > 18) {
      return std::nullopt;
    }
    return Framing{BodyKind::Length, std::stoull(length)};
  }
  return Framing{is_request ? BodyKind::None : BodyKind::UntilClose, 0};
}

bool copy_body(Conn& from, const Framing& framing, int to) {
  switch (framing.kind) {
    case BodyKind::None: return true;
    case BodyKind::Length: return from.copy_exact(framing.length, to);
    case BodyKind::Chunked: return from.copy_chunked(to);
    case BodyKind::UntilClose: return from.copy_to_eof(to);
  }
  return false;
}

int status_of(const std::string& response_head) {
  // "HTTP/1.1 200 OK"
  const auto space = response_head.find(' ');
  if (space == std::string::npos || space + 4 > response_head.size()) {
    return 0;
  }
  try {
    return std::stoi(response_head.substr(space + 1, 3));
  } catch (...) {
    return 0;
  }
}

// HTTP/1.0 closes unless it asks to keep alive; HTTP/1.1 keeps alive
// unless it asks to close.
bool wants_close(const std::string& head, bool http10) {
  const std::string connection = header_of(head, "connection");
  return http10 ? !has_token(connection, "keep-alive") : has_token(connection, "close");
}

}  // namespace

void HttpProxy::serve_connection(int client_fd) {
  track(client_fd, true);
  struct Closer {
    HttpProxy* self;
    int fd;
    ~Closer() {
      if (fd >= 0) {
        self->track(fd, false);
        ::close(fd);
      }
    }
  };
  Closer client_closer{this, client_fd};
  Conn client(client_fd);
  Closer upstream_closer{this, -1};
  std::unique_ptr<Conn> upstream;
  int upstream_port = 0;
  std::string upstream_address;
  const std::string peer = peer_address(client_fd);

  for (bool first = true;; first = false) {
    std::string head;
    const int got = client.read_head(head, k_head_timeout_ms);
    if (got == -3) {
      send_error(client_fd, 431, "request head too large");
      return;
    }
    if (got == -2 && first) {
      send_error(client_fd, 408, "request head not received in time");
      return;
    }
    if (got <= 0) {
      return;  // EOF, error, or an idle keep-alive connection timing out
    }

    // Route this request by its own Host header.
    const std::string host = host_of(head);
    if (host.empty()) {
      send_error(client_fd, 400, "no Host header");
      return;
    }
    const auto request_framing = framing_of(head, true);
    if (!request_framing) {
      send_error(client_fd, 400, "bad Content-Length");
      return;
    }
    const ProxyRoute route = m_resolver ? m_resolver(host) : ProxyRoute{};
    if (route.port <= 0) {
      send_error(client_fd, route.status,
                 route.message.empty() ? "no box answers for host '" + host + "'" : route.message);
      return;
    }
    if (route.refuse_bots && looks_automated(head)) {
      send_error(client_fd, 403,
                 "bot protection is on for '" + host + "': automated clients are refused");
      return;
    }
    if (!upstream || route.port != upstream_port || route.address != upstream_address) {
      if (upstream) {
        track(upstream->fd(), false);
        ::close(upstream->fd());
        upstream.reset();
        upstream_closer.fd = -1;
      }
      const int fd = connect_upstream(route.address, route.port);
      if (fd < 0) {
        send_error(client_fd, 502,
                   "bad gateway: nothing listens on port " + std::to_string(route.port) +
                       " for '" + host + "'");
        return;
      }
      track(fd, true);
      upstream_closer.fd = fd;
      upstream = std::make_unique<Conn>(fd);
      upstream_port = route.port;
      upstream_address = route.address;
    }
    const int up = upstream->fd();

    // The head with X-Forwarded-* after the request line.
    const std::size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const bool http10 = request_line.ends_with("HTTP/1.0");
    const bool is_head = request_line.starts_with("HEAD ");
    const bool upgrade = !header_of(head, "upgrade").empty() || request_line.starts_with("CONNECT ");
    std::string forwarded = head.substr(0, line_end + 2);
    if (!peer.empty()) {
      forwarded += "X-Forwarded-For: " + peer + "\r\n";
    }
    forwarded += "X-Forwarded-Proto: http\r\n";
    forwarded += head.substr(line_end + 2);
    if (!send_all(up, forwarded.data(), forwarded.size())) {
      send_error(client_fd, 502, "bad gateway: the upstream closed the connection");
      return;
    }

    if (upgrade) {
      // WebSocket and friends: after the head, bytes both ways until the end.
      if (!client.buffer().empty() &&
          !send_all(up, client.buffer().data(), client.buffer().size())) {
        return;
      }
      client.buffer().clear();
      if (!upstream->buffer().empty()) {
        send_all(client_fd, upstream->buffer().data(), upstream->buffer().size());
        upstream->buffer().clear();
      }
      std::thread back([client_fd, up] { pump(up, client_fd); });
      pump(client_fd, up);
      back.join();
      return;
    }
    if (!copy_body(client, *request_framing, up)) {
      return;
    }

    // The response (after any 1xx interim ones), relayed as it arrives.
    std::string response;
    int status = 0;
    for (;;) {
      if (upstream->read_head(response, -1) <= 0) {
        send_error(client_fd, 502, "bad gateway: the upstream closed the connection");
        return;
      }
      status = status_of(response);
      if (!send_all(client_fd, response.data(), response.size())) {
        return;
      }
      if (status < 100 || status >= 200 || status == 101) {
        break;
      }
    }
    if (status == 101) {
      if (!upstream->buffer().empty()) {
        send_all(client_fd, upstream->buffer().data(), upstream->buffer().size());
        upstream->buffer().clear();
      }
      std::thread back([client_fd, up] { pump(up, client_fd); });
      pump(client_fd, up);
      back.join();
      return;
    }
    auto response_framing = framing_of(response, false);
    if (!response_framing) {
      return;
    }
    if (is_head || status == 204 || status == 304) {
      response_framing = Framing{BodyKind::None, 0};
    }
    if (!copy_body(*upstream, *response_framing, client_fd)) {
      return;
    }
    const bool upstream_http10 = response.starts_with("HTTP/1.0");
    if (response_framing->kind == BodyKind::UntilClose || wants_close(head, http10) ||
        wants_close(response, upstream_http10)) {
      ::shutdown(client_fd, SHUT_WR);
      return;
    }
  }
}

}  // namespace boxd::local
