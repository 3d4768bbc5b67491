// The local server's HTTP reverse proxy for box URLs (default 127.0.0.1:9480).
// See http_proxy.cpp for how it works.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "local/http_listener.hpp"

namespace boxd::local {

// Where a Host header goes: a box's address and port, or an HTTP error to answer.
struct ProxyRoute {
  int port = 0;                       // > 0: forward to address:port
  int status = 404;                   // else: answer this status ...
  std::string message;                // ... with this short text
  bool refuse_bots = false;           // 403 for a missing or automated User-Agent
  std::string address = "127.0.0.1";  // the box's own address (Runtime::address)
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

  int port() const { return m_listener.port(); }

  // Starts accepting connections (a thread each, at most limits.max_connections).
  void start(ProxyResolver resolver, HttpLimits limits = {});
  // Stops accepting, cuts every open connection and waits for their threads.
  void stop() { m_listener.stop(); }

 private:
  void serve_connection(int client_fd);

  HttpListener m_listener;
  ProxyResolver m_resolver;
  HttpLimits m_limits;
};

}  // namespace boxd::local
