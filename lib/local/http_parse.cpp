// See http_parse.hpp. http-parser does the framing (request line, headers,
// Content-Length, chunked coding, keep-alive, upgrade); this file collects
// its callbacks into an HttpHead, pauses it at the end of a head and of a
// message, and adds the checks that Debian's lenient build of it (built
// without HTTP_PARSER_STRICT) leaves out.
#include "local/http_parse.hpp"

#include <http_parser.h>

#include <algorithm>
#include <cctype>

namespace boxd::local {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

std::string trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) {
    return "";
  }
  const auto end = text.find_last_not_of(" \t");
  return std::string(text.substr(begin, end - begin + 1));
}

// RFC 9110 token characters (header names).
bool is_token(std::string_view text) {
  static constexpr std::string_view k_extra = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return std::isalnum(c) || k_extra.find(static_cast<char>(c)) != std::string_view::npos;
  });
}

// Every line ends in CRLF, and no line starts with a space or tab (obsolete
// line folding). `raw` is the head without (some of) its final CRLF.
const char* line_ending_problem(const std::string& raw) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n') {
      if (i == 0 || raw[i - 1] != '\r') {
        return "bare LF line ending";
      }
      if (i + 1 < raw.size() && (raw[i + 1] == ' ' || raw[i + 1] == '\t')) {
        return "obsolete line folding";
      }
    } else if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] != '\n') {
      return "bare CR";
    }
  }
  return nullptr;
}

}  // namespace

std::string HttpHead::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) {
      return value;
    }
  }
  return "";
}

std::size_t HttpHead::count(std::string_view name) const {
  return static_cast<std::size_t>(std::count_if(
      headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); }));
}

std::string HttpHead::serialize() const {
  const std::string version = "HTTP/1." + std::to_string(version_minor);
  std::string out = method.empty() ? version + " " + std::to_string(status) + " " + reason + "\r\n"
                                   : method + " " + target + " " + version + "\r\n";
  for (const auto& [key, value] : headers) {
    out += key + ": " + value + "\r\n";
  }
  out += "\r\n";
  return out;
}

struct HttpParser::Impl {
  http_parser parser{};
  http_parser_settings settings{};

  static HttpParser& self(http_parser* p) { return *static_cast<HttpParser*>(p->data); }

  static int on_url(http_parser* p, const char* at, std::size_t n) {
    self(p).m_head.target.append(at, n);
    return 0;
  }
  static int on_status(http_parser* p, const char* at, std::size_t n) {
    self(p).m_head.reason.append(at, n);
    return 0;
  }
  static int on_field(http_parser* p, const char* at, std::size_t n) {
    auto& s = self(p);
    if (s.m_state != State::Head) {
      return 0;  // a trailer: dropped
    }
    if (s.m_in_value || s.m_head.headers.empty()) {
      s.m_head.headers.emplace_back();
    }
    s.m_in_value = false;
    s.m_head.headers.back().first.append(at, n);
    return 0;
  }
  static int on_value(http_parser* p, const char* at, std::size_t n) {
    auto& s = self(p);
    if (s.m_state != State::Head) {
      return 0;
    }
    s.m_in_value = true;
    s.m_head.headers.back().second.append(at, n);
    return 0;
  }
  static int on_headers_complete(http_parser* p) {
    auto& s = self(p);
    if (!s.finish_head()) {
      return -1;
    }
    s.m_state = State::HeadDone;
    http_parser_pause(p, 1);
    return s.m_kind == Kind::Response && s.m_no_body ? 1 : 0;
  }
  static int on_body(http_parser* p, const char* at, std::size_t n) {
    auto& s = self(p);
    if (s.m_sink && !s.m_sink(std::string_view(at, n))) {
      s.fail(0, "the body could not be passed on");
      return -1;
    }
    return 0;
  }
  static int on_message_complete(http_parser* p) {
    self(p).m_state = State::Done;
    http_parser_pause(p, 1);
    return 0;
  }
};

HttpParser::HttpParser(Kind kind, std::size_t max_head_bytes)
    : m_kind(kind), m_max_head(max_head_bytes), m_impl(std::make_unique<Impl>()) {
  auto& st = m_impl->settings;
  st.on_url = &Impl::on_url;
  st.on_status = &Impl::on_status;
  st.on_header_field = &Impl::on_field;
  st.on_header_value = &Impl::on_value;
  st.on_headers_complete = &Impl::on_headers_complete;
  st.on_body = &Impl::on_body;
  st.on_message_complete = &Impl::on_message_complete;
  reset();
}

HttpParser::~HttpParser() = default;

void HttpParser::reset() {
  http_parser_init(&m_impl->parser, m_kind == Kind::Request ? HTTP_REQUEST : HTTP_RESPONSE);
  m_impl->parser.data = this;
  m_state = State::Head;
  m_head = HttpHead{};
  m_raw_head.clear();
  m_in_value = false;
  m_no_body = false;
  m_error_status = 0;
  m_error.clear();
}

void HttpParser::fail(int status, std::string why) {
  if (m_state == State::Error) {
    return;
  }
  m_state = State::Error;
  m_error_status = status;
  m_error = std::move(why);
}

bool HttpParser::finish_head() {
  auto& p = m_impl->parser;
  auto refuse = [&](const std::string& why) {
    fail(400, why);
    return false;
  };
  // The head is what comes before the first empty line (a head with bare LF
  // endings is refused before the scan gets past it).
  const auto start = std::min(m_raw_head.find_first_not_of("\r\n"), m_raw_head.size());
  const auto end = m_raw_head.find("\r\n\r\n", start);
  const std::string raw =
      m_raw_head.substr(start, end == std::string::npos ? end : end + 2 - start);
  if (const char* problem = line_ending_problem(raw)) {
    return refuse(problem);
  }
  if (p.http_major != 1 || p.http_minor > 1) {
    return refuse("unsupported HTTP version");
  }
  for (auto& [name, value] : m_head.headers) {
    if (!is_token(name)) {
      return refuse("invalid header name");
    }
    value = trim(value);
  }
  for (const char* once : {"host", "content-length", "transfer-encoding"}) {
    if (m_head.count(once) > 1) {
      return refuse(std::string("more than one ") + once + " header");
    }
  }
  m_head.version_minor = p.http_minor;
  m_head.chunked = (p.flags & F_CHUNKED) != 0;
  if ((p.flags & F_CONTENTLENGTH) != 0) {
    m_head.content_length = p.content_length;
  }
  if (m_head.chunked && m_head.content_length) {
    return refuse("both Content-Length and Transfer-Encoding");
  }
  m_head.upgrade = p.upgrade != 0;
  if (m_kind == Kind::Request) {
    m_head.method = http_method_str(static_cast<http_method>(p.method));
    const auto& target = m_head.target;
    if (p.method == HTTP_CONNECT || target.empty() || (target.front() != '/' && target != "*")) {
      return refuse("only origin-form request targets (/path) are accepted");
    }
    if (p.http_minor == 1 && m_head.count("host") == 0) {
      return refuse("no Host header");
    }
    if (!m_head.chunked && m_head.count("transfer-encoding") > 0) {
      return refuse("unsupported Transfer-Encoding");
    }
  } else {
    m_head.status = static_cast<int>(p.status_code);
  }
  m_head.keep_alive = http_should_keep_alive(&p) != 0;
  return true;
}

std::size_t HttpParser::feed(const char* data, std::size_t size) {
  if (m_state == State::Done || m_state == State::Error) {
    return 0;
  }
  if (m_state == State::HeadDone) {
    m_state = State::Body;
  }
  const bool in_head = m_state == State::Head;
  if (in_head) {
    size = std::min(size, m_max_head + 1 - std::min(m_max_head, m_raw_head.size()));
  }
  // The head checks (finish_head) run inside execute, so the bytes are kept
  // first and trimmed to what the parser used afterwards.
  const std::size_t kept = m_raw_head.size();
  if (in_head) {
    m_raw_head.append(data, size);
  }
  auto& p = m_impl->parser;
  const std::size_t used = http_parser_execute(&p, &m_impl->settings, data, size);
  if (in_head) {
    m_raw_head.resize(kept + std::min(used, size));
  }
  const auto err = static_cast<http_errno>(p.http_errno);
  if (err == HPE_PAUSED) {
    http_parser_pause(&p, 0);
  } else if (err != HPE_OK) {
    fail(err == HPE_HEADER_OVERFLOW ? 431 : 400, http_errno_description(err));
  }
  if (m_state == State::Head && m_raw_head.size() > m_max_head) {
    fail(431, "request head too large");
  }
  return used;
}

void HttpParser::finish() {
  if (m_state == State::Body || m_state == State::HeadDone) {
    m_state = State::Body;
    http_parser_execute(&m_impl->parser, &m_impl->settings, nullptr, 0);
    if (m_impl->parser.http_errno == HPE_PAUSED) {
      http_parser_pause(&m_impl->parser, 0);
    }
  }
  if (m_state != State::Done) {
    fail(400, "the connection closed in the middle of a message");
  }
}

bool HttpParser::body_until_close() const {
  if (m_kind != Kind::Response || m_state == State::Head || m_state == State::Error) {
    return false;
  }
  const int status = m_head.status;
  const bool no_body = m_no_body || status / 100 == 1 || status == 204 || status == 304;
  return !no_body && !m_head.chunked && !m_head.content_length;
}

const char* http_reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Error";
  }
}

std::string http_error_response(int status, const std::string& message) {
  const std::string body = message + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + http_reason(status) +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace boxd::local
