// The HTTP reverse proxy that makes box URLs work:
// http://<box>.<user>.localhost:9480 (names: proxies.hpp).
//
// How it works: an HttpListener (http_listener.hpp) accepts connections, at
// most HttpLimits::max_connections at once (503 past it), each served by a
// thread of its own that handles its requests one after the other (HTTP/1.1
// keep-alive). Every request is parsed by HttpParser (http_parse.hpp, on
// http-parser), which refuses ambiguous framing (request smuggling) with
// 400 and a head over max_header_bytes with 431. The request's own Host
// header goes to the resolver (BoxdService::route_host: Proxies::route in
// proxies.cpp), which answers with the box's address (Runtime::address)
// and port; the request is sent there
// as the parser understood it: the head written out again with
// X-Forwarded-For/-Proto first (the client's own X-Forwarded-*, Forwarded
// and X-Real-IP dropped), the body as its Content-Length says or
// re-chunked, so the box sees exactly one request whatever the client sent.
// The upstream connection is reused while consecutive requests go to the
// same place and replaced when one goes elsewhere, so two boxes can be
// reached over one client connection. Responses are parsed and re-framed the
// same way; HEAD, 1xx, 204 and 304 responses have no body, a response
// without a length runs until the box closes (and then the client
// connection ends too). Bodies are streamed in bounded pieces, never
// buffered whole, so uploads and server-sent events pass through. An
// Upgrade request (WebSocket) or a 101 response turns the connection into a
// plain two-way splice, a second thread copying upstream -> client. A
// `Connection: close` on either side (or HTTP/1.0 without keep-alive) ends
// the connection after the response. With bot protection on for the box, a
// request whose User-Agent is missing or names an automated client gets 403.
//
// Time limits: the first request's head must arrive within header_timeout
// of the accept (408 otherwise), later ones within header_timeout of their
// first byte; an idle keep-alive connection is closed after idle_timeout; a
// request body that stops for body_timeout is cut; a box that sends nothing
// for k_upstream_timeout (5 min, long polls allowed) is cut; a client that
// reads nothing for k_send_timeout is cut.
//
// What can go wrong: an unknown host gets a 404, an unreachable upstream a
// 502, a malformed request a 400, each with a one-line text body, then the
// connection closes. Requests are relayed one at a time: a pipelining
// client waits for each response in turn.
#include "local/http_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "local/http_parse.hpp"

namespace boxd::local {

namespace {

constexpr std::size_t k_chunk_bytes = 64 * 1024;
// Body bytes read and dropped after the box stopped reading (relay_request).
constexpr std::size_t k_discard_bytes = 256 * 1024;
constexpr std::size_t k_max_response_head = 64 * 1024;
constexpr auto k_upstream_timeout = std::chrono::minutes(5);
constexpr int k_send_timeout_secs = 60;
constexpr int k_connect_timeout_secs = 5;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

void set_timeout(int fd, int option, int secs) {
  timeval tv{secs, 0};
  ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

// Bot protection: a request without a User-Agent, or whose User-Agent names
// an automated client (crawlers, command-line tools, HTTP libraries).
bool looks_automated(const std::string& user_agent) {
  const std::string agent = lower(user_agent);
  if (agent.empty()) {
    return true;
  }
  static const char* const k_markers[] = {
      "bot",           "crawl",          "spider", "slurp",  "curl/", "wget/", "python-requests",
      "python-urllib", "go-http-client", "libwww", "httpie", "scrapy"};
  for (const char* marker : k_markers) {
    if (agent.find(marker) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// A host as host_of returns it that can name a box or a domain: a DNS-ish
// name or a bracketed IPv6 literal. Anything else (white space, a second
// colon, a line break folded into the value) is a malformed request.
bool valid_host(const std::string& host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    return host.find_first_not_of("0123456789abcdef:.", 1) == host.size() - 1;
  }
  return !host.empty() &&
         host.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-_") == std::string::npos;
}

// A Host header's host, lower-cased, without port or trailing dot.
std::string host_of(const std::string& value) {
  std::string host = lower(value);
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

// A header through which a client would speak for the proxy: its own
// X-Forwarded-For/-Proto/-Host/..., Forwarded (RFC 7239) or X-Real-IP.
bool client_forwarding(const std::string& name) {
  const std::string key = lower(name);
  return key.starts_with("x-forwarded-") || key == "forwarded" || key == "x-real-ip";
}

// Connects to address:port (an IPv4 or IPv6 literal), at most
// k_connect_timeout_secs; -1 when it cannot.
int connect_to(const std::string& address, int port) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof *v6;
  } else {
    return -1;
  }
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  set_timeout(fd, SO_SNDTIMEO, k_connect_timeout_secs);  // bounds connect() too
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    ::close(fd);
    return -1;
  }
  set_timeout(fd, SO_SNDTIMEO,
              static_cast<int>(
                  std::chrono::duration_cast<std::chrono::seconds>(k_upstream_timeout).count()));
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

// Sends body bytes as they are, or as one chunk of a chunked body (an empty
// piece would end the body, so it is skipped).
bool send_body(int to, std::string_view data, bool chunked) {
  if (!chunked) {
    return send_all(to, data.data(), data.size());
  }
  if (data.empty()) {
    return true;
  }
  char size[32];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return send_all(to, size, static_cast<std::size_t>(n)) &&
         send_all(to, data.data(), data.size()) && send_all(to, "\r\n", 2);
}

// Reads from `conn` and parses until the parser reaches one of the states
// in `until` (or an error). `deadline` returns the read deadline for the
// next read. Returns 1 when reached, 0 on EOF, -1 on a read error, -2 when
// a deadline passed, -3 when the parser failed.
template <typename Deadline>
int parse_until(HttpConn& conn, HttpParser& parser, HttpParser::State until, Deadline deadline) {
  for (;;) {
    auto& buffer = conn.buffer();
    if (!buffer.empty()) {
      const auto used = parser.feed(buffer.data(), buffer.size());
      buffer.erase(0, used);
    }
    const auto state = parser.state();
    if (state == HttpParser::State::Error) {
      return -3;
    }
    if (state == until || state == HttpParser::State::Done) {
      return 1;
    }
    if (!buffer.empty() && state == HttpParser::State::HeadDone) {
      continue;
    }
    const int got = conn.fill(deadline());
    if (got == 0 && state == HttpParser::State::Body) {
      parser.finish();
      return parser.state() == HttpParser::State::Done ? 1 : 0;
    }
    if (got <= 0) {
      return got;
    }
  }
}

void splice(int client_fd, int upstream_fd) {
  std::thread back([client_fd, upstream_fd] { pump(upstream_fd, client_fd); });
  pump(client_fd, upstream_fd);
  back.join();
}

// One client connection.
class ProxySession {
 public:
  ProxySession(int fd, const ProxyResolver& resolver, const HttpLimits& limits,
               HttpListener& listener)
      : m_client(fd),
        m_resolver(resolver),
        m_limits(limits),
        m_listener(listener),
        m_request(HttpParser::Kind::Request, limits.max_header_bytes),
        m_response(HttpParser::Kind::Response, k_max_response_head),
        m_peer(peer_address(fd)) {}
  ~ProxySession() { drop_upstream(); }

  void run();

 private:
  // Each returns false when the connection is over.
  bool read_request(bool first, Clock::time_point accepted);
  bool open_upstream(const ProxyRoute& route, const std::string& host);
  bool relay_request();
  bool relay_response();
  void drop_upstream();
  void answer(int status, const std::string& message) {
    send_all(m_client.fd(), http_error_response(status, message));
  }

  HttpConn m_client;
  const ProxyResolver& m_resolver;
  const HttpLimits& m_limits;
  HttpListener& m_listener;
  HttpParser m_request;
  HttpParser m_response;
  std::string m_peer;
  std::unique_ptr<HttpConn> m_upstream;
  std::string m_upstream_key;  // address:port of m_upstream
};

void ProxySession::drop_upstream() {
  if (m_upstream) {
    m_listener.track(m_upstream->fd(), false);
    ::close(m_upstream->fd());
    m_upstream.reset();
    m_upstream_key.clear();
  }
}

bool ProxySession::read_request(bool first, Clock::time_point accepted) {
  m_request.reset();
  if (!first && m_client.buffer().empty()) {
    const auto idle = std::chrono::milliseconds(m_limits.idle_timeout_ms);
    if (m_client.fill(Clock::now() + idle) <= 0) {
      return false;  // closed, or idle too long
    }
  }
  const auto head_deadline =
      (first ? accepted : Clock::now()) + std::chrono::milliseconds(m_limits.header_timeout_ms);
  const int got =
      parse_until(m_client, m_request, HttpParser::State::HeadDone, [&] { return head_deadline; });
  if (got == -2) {
    answer(408, "request head not received in time");
    return false;
  }
  if (got == -3) {
    const int status = m_request.error_status() == 0 ? 400 : m_request.error_status();
    answer(status, (status == 400 ? "bad request: " : "") + m_request.error());
    return false;
  }
  return got == 1;
}

bool ProxySession::open_upstream(const ProxyRoute& route, const std::string& host) {
  const std::string key = route.address + ":" + std::to_string(route.port);
  if (m_upstream && key == m_upstream_key) {
    return true;
  }
  drop_upstream();
  const int fd = connect_to(route.address, route.port);
  if (fd < 0) {
    answer(502, "bad gateway: nothing listens on port " + std::to_string(route.port) +
                    " of the box for '" + host + "'");
    return false;
  }
  m_listener.track(fd, true);
  m_upstream = std::make_unique<HttpConn>(fd);
  m_upstream_key = key;
  return true;
}

bool ProxySession::relay_request() {
  const HttpHead& head = m_request.head();
  HttpHead forwarded = head;
  // The proxy is where clients connect: what a client says about its own
  // address or scheme is dropped, so the box sees only the proxy's word
  // (an app that takes the last X-Forwarded-For would take a forged one).
  std::erase_if(forwarded.headers,
                [](const auto& header) { return client_forwarding(header.first); });
  std::vector<std::pair<std::string, std::string>> extra;
  if (!m_peer.empty()) {
    extra.emplace_back("X-Forwarded-For", m_peer);
  }
  extra.emplace_back("X-Forwarded-Proto", "http");
  forwarded.headers.insert(forwarded.headers.begin(), extra.begin(), extra.end());
  const int up = m_upstream->fd();
  if (!send_all(up, forwarded.serialize())) {
    answer(502, "bad gateway: the box closed the connection");
    return false;
  }
  // A box that stops reading (it answered before the body, or closed) does
  // not end the request at once: up to k_discard_bytes more of the body are
  // read and dropped, so a malformed body still gets its 400, and a whole
  // one the box's early answer (or a 502), whichever comes first in time.
  std::size_t dropped = 0;
  bool upstream_gone = false;
  m_request.on_body([&, up, chunked = head.chunked](std::string_view data) {
    if (!upstream_gone && send_body(up, data, chunked)) {
      return true;
    }
    upstream_gone = true;
    dropped += data.size();
    return dropped <= k_discard_bytes;
  });
  const auto body_wait = std::chrono::milliseconds(m_limits.body_timeout_ms);
  const int got = parse_until(m_client, m_request, HttpParser::State::Done,
                              [&] { return Clock::now() + body_wait; });
  m_request.on_body(nullptr);
  if (got == -3) {
    const int status = m_request.error_status();
    answer(status != 0 ? status : 502, status != 0 ? "bad request: " + m_request.error()
                                                   : "bad gateway: the box stopped reading");
  }
  if (got != 1) {
    return false;
  }
  return upstream_gone || !head.chunked || send_all(up, "0\r\n\r\n", 5);
}

bool ProxySession::relay_response() {
  const int client = m_client.fd();
  const auto wait = [] { return Clock::now() + k_upstream_timeout; };
  for (;;) {  // interim (1xx) responses first
    m_response.reset();
    m_response.expect_no_body(m_request.head().method == "HEAD");
    const int got = parse_until(*m_upstream, m_response, HttpParser::State::HeadDone, wait);
    if (got != 1) {
      answer(got == -2 ? 504 : 502,
             got == -2 ? "gateway timeout: the box did not answer"
                       : "bad gateway: the box closed the connection or sent no valid HTTP");
      return false;
    }
    const HttpHead& head = m_response.head();
    if (!send_all(client, head.serialize())) {
      return false;
    }
    if (head.status == 101) {
      parse_until(*m_upstream, m_response, HttpParser::State::Done, wait);
      send_all(client, m_upstream->buffer());
      m_upstream->buffer().clear();
      splice(client, m_upstream->fd());
      return false;
    }
    if (head.status >= 200 || head.status < 100) {
      break;
    }
    if (parse_until(*m_upstream, m_response, HttpParser::State::Done, wait) != 1) {
      return false;
    }
  }
  const bool chunked = m_response.head().chunked;
  const bool until_close = m_response.body_until_close();
  m_response.on_body(
      [client, chunked](std::string_view data) { return send_body(client, data, chunked); });
  const int got = parse_until(*m_upstream, m_response, HttpParser::State::Done, wait);
  m_response.on_body(nullptr);
  if (got != 1 || (chunked && !send_all(client, "0\r\n\r\n", 5))) {
    return false;
  }
  if (until_close || !m_request.head().keep_alive || !m_response.head().keep_alive) {
    ::shutdown(client, SHUT_WR);
    return false;
  }
  return true;
}

void ProxySession::run() {
  const auto accepted = Clock::now();
  set_timeout(m_client.fd(), SO_SNDTIMEO, k_send_timeout_secs);
  for (bool first = true;; first = false) {
    if (!read_request(first, accepted)) {
      return;
    }
    const HttpHead& head = m_request.head();
    const std::string host = host_of(head.header("host"));
    if (!valid_host(host)) {
      answer(400, host.empty() ? "no Host header" : "malformed Host header");
      return;
    }
    const ProxyRoute route = m_resolver ? m_resolver(host) : ProxyRoute{};
    if (route.port <= 0) {
      answer(route.status,
             route.message.empty() ? "no box answers for host '" + host + "'" : route.message);
      return;
    }
    if (route.refuse_bots && looks_automated(head.header("user-agent"))) {
      answer(403, "bot protection is on for '" + host + "': automated clients are refused");
      return;
    }
    if (!open_upstream(route, host)) {
      return;
    }
    if (head.upgrade) {
      // WebSocket and friends: the head, then bytes both ways until the end.
      if (!relay_request()) {
        return;
      }
      send_all(m_upstream->fd(), m_client.buffer());
      m_client.buffer().clear();
      send_all(m_client.fd(), m_upstream->buffer());
      m_upstream->buffer().clear();
      splice(m_client.fd(), m_upstream->fd());
      return;
    }
    if (!relay_request() || !relay_response()) {
      return;
    }
  }
}

}  // namespace

HttpProxy::HttpProxy(const std::string& listen, int port)
    : m_listener(listen, port, "HTTP proxy", "use --proxy-port to choose another port") {}

HttpProxy::~HttpProxy() {
  stop();
}

void HttpProxy::start(ProxyResolver resolver, HttpLimits limits) {
  m_resolver = std::move(resolver);
  m_limits = limits;
  m_listener.start(limits, [this](int fd) { serve_connection(fd); });
}

void HttpProxy::serve_connection(int client_fd) {
  ProxySession session(client_fd, m_resolver, m_limits, m_listener);
  session.run();
}

}  // namespace boxd::local
