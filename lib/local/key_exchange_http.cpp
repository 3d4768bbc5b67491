// See key_exchange_http.hpp.
#include "local/key_exchange_http.hpp"

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "local/exchange_body.hpp"
#include "local/http_parse.hpp"

namespace boxd::local {

namespace {

using nlohmann::json;

std::string response(int status, const std::string& type, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + http_reason(status) +
         "\r\nContent-Type: " + type + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

std::string json_error(int status, const std::string& message) {
  return response(status, "application/json", json{{"error", message}}.dump());
}

// Reads into `parser` until it reaches `until` (or Done). 1 = reached,
// 0 = closed, -2 = deadline passed, -3 = parse error.
int read_until(HttpConn& conn, HttpParser& parser, HttpParser::State until,
               Clock::time_point deadline) {
  for (;;) {
    auto& buffer = conn.buffer();
    if (!buffer.empty()) {
      buffer.erase(0, parser.feed(buffer.data(), buffer.size()));
    }
    const auto state = parser.state();
    if (state == HttpParser::State::Error) {
      return -3;
    }
    if (state == until || state == HttpParser::State::Done) {
      return 1;
    }
    if (!buffer.empty()) {
      continue;
    }
    const int got = conn.fill(deadline);
    if (got <= 0) {
      return got == -2 ? -2 : 0;
    }
  }
}

std::string path_of(const std::string& target) {
  return target.substr(0, target.find('?'));
}

}  // namespace

KeyExchangeEndpoint::KeyExchangeEndpoint(const std::string& listen, int port, Auth& auth)
    : m_listener(listen, port, "HTTP key exchange", "use --http-port to choose another port"),
      m_auth(auth) {}

void KeyExchangeEndpoint::start(HttpLimits limits) {
  m_limits = limits;
  m_listener.start(limits, [this](int fd) { serve(fd); });
}

void KeyExchangeEndpoint::serve(int fd) {
  const auto accepted = Clock::now();
  HttpConn conn(fd);
  HttpParser parser(HttpParser::Kind::Request, m_limits.max_header_bytes);
  const auto answer = [fd](const std::string& text) { send_all(fd, text); };
  const int got = read_until(conn, parser, HttpParser::State::HeadDone,
                             accepted + std::chrono::milliseconds(m_limits.header_timeout_ms));
  if (got == -2) {
    return answer(http_error_response(408, "request head not received in time"));
  }
  if (got == -3) {
    const int status = parser.error_status();
    return answer(
        http_error_response(status, (status == 400 ? "bad request: " : "") + parser.error()));
  }
  if (got != 1) {
    return;
  }
  const HttpHead head = parser.head();
  const std::string path = path_of(head.target);
  if (path == "/healthz" && (head.method == "GET" || head.method == "HEAD")) {
    return answer(response(200, "text/plain", "ok"));
  }
  if (path != "/api/v1/auth/token") {
    return answer(http_error_response(404, "not found"));
  }
  if (head.method != "POST") {
    return answer(http_error_response(405, "use POST"));
  }
  if (head.content_length.value_or(0) > m_limits.max_body_bytes) {
    return answer(json_error(413, "request body too large"));
  }
  std::string body;
  bool too_large = false;
  parser.on_body([&](std::string_view data) {
    too_large = body.size() + data.size() > m_limits.max_body_bytes;
    body.append(data.substr(0, too_large ? 0 : data.size()));
    return !too_large;
  });
  if (head.header("expect") == "100-continue") {
    answer("HTTP/1.1 100 Continue\r\n\r\n");
  }
  const int body_got =
      read_until(conn, parser, HttpParser::State::Done,
                 Clock::now() + std::chrono::milliseconds(m_limits.body_timeout_ms));
  if (too_large) {
    return answer(json_error(413, "request body too large"));
  }
  if (body_got == -2) {
    return answer(http_error_response(408, "request body not received in time"));
  }
  if (body_got != 1) {
    return answer(http_error_response(400, "bad request: " + parser.error()));
  }
  const auto api_key = api_key_from_exchange_body(body);
  if (!api_key) {
    return answer(json_error(400, "expected a JSON body {\"api_key\": \"...\"}"));
  }
  const auto issued = m_auth.exchange(*api_key);
  if (!issued) {
    logging::info("auth refused", {{"endpoint", "key exchange"}, {"peer", peer_address(fd)}});
    return answer(json_error(401, "invalid API key"));
  }
  answer(response(200, "application/json",
                  json{{"token", issued->token},
                       {"expires_at", issued->expires_at},
                       {"user_id", issued->user_id}}
                      .dump()));
  logging::info("token issued",
                {{"user", issued->user_id}, {"jti", issued->jti}, {"peer", peer_address(fd)}});
}

}  // namespace boxd::local
