// HTTP/1.x message parsing for the local server's HTTP endpoints (the box
// proxy and the key exchange), on the maintained http-parser library
// (libhttp-parser-dev) plus the stricter checks a proxy needs against
// request smuggling. Pure: no sockets, so it is unit-tested and fuzzed alone.
//
// Use: feed() bytes as they arrive. Parsing stops after a message head
// (state HeadDone: the caller routes it, then calls feed() again with the
// rest) and after a whole message (state Done: reset() for the next one,
// so pipelined requests wait their turn). Body bytes (chunked coding
// removed) go to the body sink as they are parsed; chunk extensions and
// trailers are dropped. A message whose length runs until the connection
// closes (responses only) ends with finish().
//
// Refused with 400 (state Error): conflicting Content-Length and
// Transfer-Encoding, two Content-Lengths (even equal ones), a list or sign
// in Content-Length, a Transfer-Encoding other than a final "chunked" on a
// request, two Transfer-Encoding or Host headers, a request without Host
// (HTTP/1.1), obsolete line folding, bare LF or CR line endings, header
// names that are not tokens (spaces before the colon), control characters,
// invalid chunk sizes, HTTP versions other than 1.0 and 1.1, and request
// targets other than origin form ("/...") or "*"; a head over the size limit
// is refused with 431.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boxd::local {

struct HttpHead {
  // Requests.
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/path?query" or "*"
  // Responses.
  int status = 0;
  std::string reason;

  int version_minor = 1;  // HTTP/1.<minor>
  // Every header line in order, names as received, values trimmed.
  std::vector<std::pair<std::string, std::string>> headers;
  bool chunked = false;  // the body is in chunked coding
  std::optional<std::uint64_t> content_length;
  bool keep_alive = true;  // the connection may carry another message after this one
  bool upgrade =
      false;  // a request to switch protocols (Upgrade + Connection: upgrade, or CONNECT)

  // The first value of header `name` (any case), "" when absent.
  std::string header(std::string_view name) const;
  std::size_t count(std::string_view name) const;
  // The head as sent on: start line, headers, blank line (CRLF endings).
  std::string serialize() const;
};

class HttpParser {
 public:
  enum class Kind { Request, Response };
  enum class State { Head, HeadDone, Body, Done, Error };

  HttpParser(Kind kind, std::size_t max_head_bytes);
  ~HttpParser();
  HttpParser(const HttpParser&) = delete;
  HttpParser& operator=(const HttpParser&) = delete;

  // Parses up to `size` bytes; returns how many were used. Stops early at
  // HeadDone, Done or Error.
  std::size_t feed(const char* data, std::size_t size);
  // The peer closed the connection: ends a body that runs until close
  // (state Done), else an unfinished message becomes an Error.
  void finish();
  // Ready for the next message on the same connection.
  void reset();

  // Responses: the request was HEAD, so the response has no body. Set
  // before feeding the response.
  void expect_no_body(bool no_body) { m_no_body = no_body; }
  // Body bytes as they are parsed; returning false stops with an Error
  // (status 0: the caller's sink failed, not the peer).
  void on_body(std::function<bool(std::string_view)> sink) { m_sink = std::move(sink); }

  State state() const { return m_state; }
  const HttpHead& head() const { return m_head; }
  // When state() is Error: the status to answer (400, 431; 0 = sink failed)
  // and a short reason for the log and the response body.
  int error_status() const { return m_error_status; }
  const std::string& error() const { return m_error; }
  // True when the message's body runs until the connection closes.
  bool body_until_close() const;

 private:
  struct Impl;
  friend struct Impl;
  void fail(int status, std::string why);
  bool finish_head();  // the checks http-parser leaves to us

  Kind m_kind;
  std::size_t m_max_head;
  std::unique_ptr<Impl> m_impl;
  State m_state = State::Head;
  HttpHead m_head;
  std::string m_raw_head;  // the head's bytes, for the line-ending checks
  bool m_in_value = false;
  bool m_no_body = false;
  std::function<bool(std::string_view)> m_sink;
  int m_error_status = 0;
  std::string m_error;
};

// "HTTP/1.1 <status> <reason>" plus a plain-text body and Connection: close.
std::string http_error_response(int status, const std::string& message);
const char* http_reason(int status);

}  // namespace boxd::local
