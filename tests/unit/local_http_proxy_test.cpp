// Unit tests of the HTTP proxy's request checks, over a real loopback socket.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <vector>

#include "local/http_proxy.hpp"

using namespace boxd::local;

namespace {

// Sends `request`, half-closes, and returns everything the proxy answers.
std::string exchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) {
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer;
}

}  // namespace

TEST_CASE("the proxy routes by a well-formed Host and refuses a malformed one") {
  std::mutex mutex;
  std::vector<std::string> asked;
  HttpProxy proxy("127.0.0.1", 0);
  proxy.start([&](const std::string& host) {
    std::lock_guard lock(mutex);
    asked.push_back(host);
    return ProxyRoute{0, 404, "nothing here", false};
  });

  auto answer = exchange(proxy.port(), "GET / HTTP/1.1\r\nHost: Web.LOCALHOST.:9480\r\n\r\n");
  CHECK(answer.starts_with("HTTP/1.1 404 "));
  CHECK(answer.ends_with("\r\n\r\nnothing here\n"));
  answer = exchange(proxy.port(), "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n");
  CHECK(answer.starts_with("HTTP/1.1 404 "));

  // Found by tests/fuzz/fuzz_http_proxy: a bare LF folded a second line into
  // the Host value, and "wgrade:\nhost" reached the resolver (and the 404
  // text). A Host that is no host name is a 400 now, before any routing.
  for (const char* host : {"wgrade:\nHost: web.l", "a b", "web:80:80", "we/b", "[::1", "[x]"}) {
    CAPTURE(host);
    answer = exchange(proxy.port(), std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n");
    // 400 from the parser (bare LF, a space) or from the Host check.
    CHECK(answer.starts_with("HTTP/1.1 400 "));
  }
  answer = exchange(proxy.port(), "GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n");
  CHECK(answer.starts_with("HTTP/1.1 400 "));
  CHECK(answer.find("Host") != std::string::npos);

  proxy.stop();
  std::lock_guard lock(mutex);
  CHECK(asked == std::vector<std::string>{"web.localhost", "[::1]"});
}
