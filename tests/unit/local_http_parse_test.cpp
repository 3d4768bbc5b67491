// HttpParser (lib/local/http_parse.hpp): framing, smuggling refusals, limits.
#include <doctest/doctest.h>

#include <string>

#include "local/http_parse.hpp"

using namespace boxd::local;

namespace {

struct Parsed {
  HttpParser::State state;
  int status = 0;
  std::string error;
  HttpHead head;
  std::string body;
  std::size_t used = 0;
};

// Feeds `text` (in pieces of `step` bytes) through the head and the body of
// one request (or response).
Parsed parse(const std::string& text, HttpParser::Kind kind = HttpParser::Kind::Request,
             std::size_t step = 0, std::size_t max_head = 8192) {
  HttpParser parser(kind, max_head);
  Parsed out;
  parser.on_body([&](std::string_view data) {
    out.body.append(data);
    return true;
  });
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t size = step == 0 ? text.size() - pos : std::min(step, text.size() - pos);
    const std::size_t used = parser.feed(text.data() + pos, size);
    pos += used;
    if (parser.state() == HttpParser::State::HeadDone) {
      out.head = parser.head();
    }
    if (parser.state() == HttpParser::State::Done || parser.state() == HttpParser::State::Error) {
      break;
    }
    if (used == 0 && parser.state() != HttpParser::State::HeadDone) {
      break;
    }
  }
  out.state = parser.state();
  out.status = parser.error_status();
  out.error = parser.error();
  if (out.state == HttpParser::State::Done) {
    out.head = parser.head();
  }
  out.used = pos;
  return out;
}

void check_refused(const std::string& text, int status = 400) {
  CAPTURE(text);
  const Parsed p = parse(text);
  CHECK(p.state == HttpParser::State::Error);
  CHECK(p.status == status);
}

}  // namespace

TEST_CASE("http parse: a request with a body, whole or byte by byte") {
  const std::string text =
      "POST /a?b=1 HTTP/1.1\r\nHost: web.alice.localhost:9480\r\nContent-Length: 5\r\n"
      "X-Spaced:   v  \r\n\r\nhelloGET /next HTTP/1.1\r\n";
  for (std::size_t step : {0, 1, 7}) {
    CAPTURE(step);
    const Parsed p = parse(text, HttpParser::Kind::Request, step);
    REQUIRE(p.state == HttpParser::State::Done);
    CHECK(p.head.method == "POST");
    CHECK(p.head.target == "/a?b=1");
    CHECK(p.head.header("host") == "web.alice.localhost:9480");
    CHECK(p.head.header("x-spaced") == "v");
    CHECK(p.head.content_length == 5);
    CHECK(p.head.keep_alive);
    CHECK(p.body == "hello");
    // The next (pipelined) request is left alone.
    CHECK(text.substr(p.used) == "GET /next HTTP/1.1\r\n");
  }
}

TEST_CASE("http parse: chunked bodies are decoded, extensions and trailers dropped") {
  const Parsed p = parse(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n",
      HttpParser::Kind::Request, 3);
  REQUIRE(p.state == HttpParser::State::Done);
  CHECK(p.head.chunked);
  CHECK(p.body == "abcde");
  CHECK(p.head.count("x-trailer") == 0);
}

TEST_CASE("http parse: the head is written out again in canonical form") {
  const Parsed p = parse("GET /x HTTP/1.0\r\nHost: h\r\nA: 1\r\n\r\n");
  REQUIRE(p.state == HttpParser::State::Done);
  CHECK(p.head.serialize() == "GET /x HTTP/1.0\r\nHost: h\r\nA: 1\r\n\r\n");
  CHECK_FALSE(p.head.keep_alive);  // HTTP/1.0 without keep-alive
}

TEST_CASE("http parse: request smuggling is refused with 400") {
  const std::string start = "POST / HTTP/1.1\r\nHost: a\r\n";
  check_refused(start + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  check_refused(start + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n");
  check_refused(start + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc");
  check_refused(start + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");
  check_refused(start + "Content-Length: 3, 3\r\n\r\nabc");
  check_refused(start + "Content-Length: +3\r\n\r\nabc");
  check_refused(start + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n");  // space before colon
  check_refused(start +
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  check_refused(start + "Transfer-Encoding: gzip\r\n\r\nabc");
  check_refused(start + "Transfer-Encoding: chunked, gzip\r\n\r\nabc");
  check_refused(start + "X-A: b\r\n folded\r\n\r\n");  // obs-fold
  check_refused(start + "Content-Length: 1\r\n 2\r\n\r\nabc");
  check_refused("GET / HTTP/1.1\nHost: a\n\n");              // bare LF
  check_refused("GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n");  // bare CR
  check_refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  check_refused("GET / HTTP/1.1\r\nX: y\r\n\r\n");                 // no Host
  check_refused("GET http://other/ HTTP/1.1\r\nHost: a\r\n\r\n");  // absolute form
  check_refused("CONNECT a:80 HTTP/1.1\r\nHost: a\r\n\r\n");
  check_refused("GET / HTTP/2.0\r\nHost: a\r\n\r\n");
  check_refused("GET /\r\n\r\n");  // HTTP/0.9
  check_refused("GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n");
}

TEST_CASE("http parse: invalid chunk sizes are refused with 400") {
  const std::string start = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  check_refused(start + "zz\r\nabc\r\n0\r\n\r\n");
  check_refused(start + "fffffffffffffffffff\r\nabc\r\n0\r\n\r\n");
  check_refused(start + "3\r\nabcX0\r\n\r\n");
  check_refused(start + "-1\r\nabc\r\n0\r\n\r\n");
}

TEST_CASE("http parse: a head over the limit is refused with 431, even fed at once") {
  const std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(10000, 'a') + "\r\n\r\n";
  const Parsed whole = parse(big, HttpParser::Kind::Request, 0, 4096);
  CHECK(whole.state == HttpParser::State::Error);
  CHECK(whole.status == 431);
  CHECK(whole.used <= 4097);
  const Parsed pieces = parse(big, HttpParser::Kind::Request, 100, 4096);
  CHECK(pieces.status == 431);
  CHECK(parse(big, HttpParser::Kind::Request, 0, 32768).state == HttpParser::State::Done);
}

TEST_CASE("http parse: upgrade requests stop after the head") {
  const std::string text =
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nRAW";
  const Parsed p = parse(text);
  REQUIRE(p.state == HttpParser::State::Done);
  CHECK(p.head.upgrade);
  CHECK(text.substr(p.used) == "RAW");
}

TEST_CASE("http parse: responses: length, chunked, until close, no body for HEAD") {
  Parsed p = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", HttpParser::Kind::Response);
  REQUIRE(p.state == HttpParser::State::Done);
  CHECK(p.head.status == 200);
  CHECK(p.head.reason == "OK");
  CHECK(p.body == "hi");
  CHECK(p.head.serialize() == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");

  HttpParser eof(HttpParser::Kind::Response, 8192);
  std::string body;
  eof.on_body([&](std::string_view d) {
    body.append(d);
    return true;
  });
  const std::string text = "HTTP/1.0 200 OK\r\n\r\nuntil close";
  std::size_t used = eof.feed(text.data(), text.size());
  CHECK(eof.state() == HttpParser::State::HeadDone);
  CHECK(eof.body_until_close());
  eof.feed(text.data() + used, text.size() - used);
  CHECK(eof.state() == HttpParser::State::Body);
  eof.finish();
  CHECK(eof.state() == HttpParser::State::Done);
  CHECK(body == "until close");

  HttpParser head(HttpParser::Kind::Response, 8192);
  head.expect_no_body(true);
  const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  used = head.feed(reply.data(), reply.size());
  used += head.feed(reply.data() + used, reply.size() - used);
  CHECK(head.state() == HttpParser::State::Done);
  CHECK(used == reply.size());
}

TEST_CASE("http parse: a body sink that fails stops the parse without blaming the peer") {
  HttpParser parser(HttpParser::Kind::Request, 8192);
  parser.on_body([](std::string_view) { return false; });
  const std::string text = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
  const auto used = parser.feed(text.data(), text.size());
  parser.feed(text.data() + used, text.size() - used);
  CHECK(parser.state() == HttpParser::State::Error);
  CHECK(parser.error_status() == 0);
}
