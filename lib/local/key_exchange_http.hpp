// The local server's key-exchange endpoint (default 127.0.0.1:9444):
//   POST /api/v1/auth/token  {"api_key": "..."}  -> 200 {"token", "expires_at", "user_id"}
//                                                   400 bad body, 401 unknown key
//   GET  /healthz                                -> 200 "ok"
// One request per connection (the response closes it), served through an
// HttpListener with its limits: 503 past max_connections, 408 when the head
// or the body is not in within header_timeout / body_timeout, 431 for a head
// over max_header_bytes, 413 for a body over max_body_bytes.
#pragma once

#include <functional>
#include <string>

#include "local/auth.hpp"
#include "local/http_listener.hpp"

namespace boxd::local {

class KeyExchangeEndpoint {
 public:
  // Binds listen:port (0 = any free port); throws boxd::Error (Connection).
  // Refused keys and issued tokens (user, jti, peer; never the key or the
  // token) are logged at info.
  KeyExchangeEndpoint(const std::string& listen, int port, Auth& auth);
  int port() const { return m_listener.port(); }
  void start(HttpLimits limits);
  void stop() { m_listener.stop(); }

 private:
  void serve(int fd);

  HttpListener m_listener;
  Auth& m_auth;
  HttpLimits m_limits;
};

}  // namespace boxd::local
