// One listening HTTP endpoint of the local server (the box proxy, the key
// exchange) with the limits that keep it up under abuse.
//
// One thread accepts; each accepted connection is served by a thread of its
// own, at most HttpLimits::max_connections at once, and at most
// max_owner_connections of one owner (the gRPC gate's owner_of: a local
// uid, a remote address or IPv6 /64), so that one local user or host
// holding connections open (slowly, or reopening each as it is cut) leaves
// room for everybody else. Past either, the accept
// thread answers 503 itself (without reading the request), half-closes and
// drains the socket briefly so the client sees the answer, and closes it:
// no thread is started for it. Handlers read through HttpConn, whose reads
// carry deadlines (a head must arrive within header_timeout, an idle
// keep-alive connection is closed after idle_timeout, a body that stops
// moving for body_timeout is cut), so a slow client holds its slot for a
// few seconds at most. stop() shuts every open socket down, which wakes the
// blocked reads, and waits for the connection threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common/fd.hpp"

namespace boxd::local {

struct HttpLimits {
  int max_connections = 128;                 // open connections (and their threads) at once
  int max_owner_connections = 64;            // of one owner (grpc_gate.hpp's owner_of)
  int header_timeout_ms = 5000;              // from the first byte (accept) to the end of a head
  int body_timeout_ms = 30000;               // key exchange: the whole body; proxy: without a byte
  int idle_timeout_ms = 30000;               // keep-alive: waiting for the next request
  std::size_t max_header_bytes = 32 * 1024;  // 431 past it
  std::size_t max_body_bytes = 64 * 1024;    // key exchange only: 413 past it
};

using Clock = std::chrono::steady_clock;

// A socket with a read buffer and deadline-aware reads.
class HttpConn {
 public:
  explicit HttpConn(int fd) : m_fd(fd) {}
  int fd() const { return m_fd; }
  std::string& buffer() { return m_buffer; }

  // Reads more bytes into buffer(), waiting at most until `deadline`.
  // 1 = got some, 0 = EOF, -1 = error, -2 = deadline passed.
  int fill(Clock::time_point deadline);
  // Same, waiting forever.
  int fill();

 private:
  int m_fd;
  std::string m_buffer;
};

bool send_all(int fd, const char* data, std::size_t size);
inline bool send_all(int fd, const std::string& data) {
  return send_all(fd, data.data(), data.size());
}
// A TCP socket bound to host (an IP literal, v6 with or without brackets)
// and port (0 = any free port) and listening; -1 with errno when it cannot.
int bind_tcp_listener(const std::string& host, int port, int backlog = 128);
// The port a bound socket got (0 when it cannot be read).
int bound_port(int fd);
// The peer's IP address as text ("" when unknown).
std::string peer_address(int fd);

class HttpListener {
 public:
  // Binds listen:port (port 0 = any free port); throws boxd::Error
  // (Connection, with `hint`) when it cannot. `what` names the endpoint in
  // messages ("HTTP proxy").
  HttpListener(const std::string& listen, int port, const std::string& what,
               const std::string& hint);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  int port() const { return m_port; }

  // Starts accepting; `serve` runs on the connection's own thread and owns
  // nothing: the listener closes the fd when it returns.
  void start(HttpLimits limits, std::function<void(int fd)> serve);
  void stop();

  // Sockets a handler opens besides the client's (upstream connections),
  // so that stop() shuts them down too.
  void track(int fd, bool add);
  // Connections being served right now (tests, logs).
  int active() const;

 private:
  void accept_loop();
  void refuse(int fd);
  void run_connection(int fd, const std::string& owner);

  std::string m_what;
  int m_listen_fd = -1;
  Pipe m_wake{O_CLOEXEC | O_NONBLOCK};  // stop() wakes the accept loop
  int m_port = 0;
  HttpLimits m_limits;
  std::function<void(int)> m_serve;
  std::thread m_accept_thread;
  std::atomic<bool> m_stopping{false};
  mutable std::mutex m_mutex;
  std::condition_variable m_idle;
  std::set<int> m_open_fds;
  int m_active = 0;
  std::map<std::string, int> m_owners;  // open connections per owner
  // Refusals are logged at most every 10 s (accept thread only).
  Clock::time_point m_refusal_logged{};
  std::int64_t m_refusals = 0;
  void log_refusal(const std::string& owner);
};

}  // namespace boxd::local
