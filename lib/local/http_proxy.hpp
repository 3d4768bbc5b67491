// The local server's HTTP reverse proxy for box URLs (default 127.0.0.1:9480).
// See http_proxy.cpp for how it works.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace boxd::local {

// Where a Host header goes: a box's address and port, or an HTTP error to answer.
struct ProxyRoute {
  int port = 0;          // > 0: forward to address:port
  int status = 404;      // else: answer this status ...
  std::string message;   // ... with this short text
  bool refuse_bots = false;  // 403 for a missing or automated User-Agent
  std::string address = "127.0.0.1";  // the box's address (Runtime::address)
};

// host: the Host header without the port, lower-cased.
using ProxyResolver = std::function<ProxyRoute(const std::string& host)>;

class HttpProxy {
 public:
  // Binds listen:port (port 0 = any free port); throws boxd::Error
  // (Connection) when it cannot.
  HttpProxy(const std::string& listen, int port);
  ~HttpProxy();
  HttpProxy(const HttpProxy&) = delete;
  HttpProxy& operator=(const HttpProxy&) = delete;

  int port() const { return m_port; }

  // Starts accepting connections (one thread each).
  void start(ProxyResolver resolver);
  // Stops accepting, cuts every open connection and waits for their threads.
  void stop();

 private:
  void accept_loop();
  void serve_connection(int client_fd);
  void track(int fd, bool add);

  int m_listen_fd = -1;
  int m_wake_pipe[2] = {-1, -1};
  int m_port = 0;
  ProxyResolver m_resolver;
  std::thread m_accept_thread;
  std::atomic<bool> m_stopping{false};
  std::mutex m_mutex;
  std::condition_variable m_idle;
  std::set<int> m_open_fds;
  int m_active = 0;
};

}  // namespace boxd::local
