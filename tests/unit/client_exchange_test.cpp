// The API-key exchange against an in-process HTTP server: every answer maps
// to the right error class, and the key never leaks into a message.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "client/client.hpp"
#include "client/exchange_response.hpp"
#include "client_test_servers.hpp"
#include "common/error.hpp"

using boxd::ErrorClass;
using boxd::client::exchange_api_key;
using boxd::test::FakeExchange;

namespace {

const std::string k_key = "bxd_Secret0123456789abcdefghijklmnopqrstuvw";

FakeExchange::Handler answer(int status, std::string body) {
  return [status, body](const std::string&, httplib::Response& res) {
    res.status = status;
    res.set_content(body, "application/json");
  };
}

// Runs the exchange, expects a boxd::Error, checks the key is not in it.
boxd::Error expect_error(const std::string& url) {
  try {
    exchange_api_key(url, k_key, std::chrono::seconds(5));
  } catch (const boxd::Error& e) {
    const std::string text = std::string(e.what()) + "\n" + e.hint();
    CHECK(text.find(k_key) == std::string::npos);
    CHECK(text.find("Secret0123") == std::string::npos);
    return e;
  }
  FAIL("the exchange should have failed");
  return boxd::Error(ErrorClass::Internal, "unreachable");
}

}  // namespace

TEST_CASE("exchange: 200 returns the token and sends the key as JSON") {
  FakeExchange server(
      answer(200, R"({"token":"header.payload.sig","expires_at":1900000000,"user_id":"u-1"})"));
  const auto result = exchange_api_key(server.url(), k_key, std::chrono::seconds(5));
  CHECK(result.token == "header.payload.sig");
  CHECK(result.expires_at == 1900000000);
  CHECK(result.user_id == "u-1");
  REQUIRE(server.calls() == 1);
  CHECK(nlohmann::json::parse(server.body(0)) == nlohmann::json{{"api_key", k_key}});
  CHECK(server.content_type(0) == "application/json");
}

TEST_CASE("exchange: 401 is an authentication error with a login hint") {
  FakeExchange server(answer(401, R"({"error":"invalid key )" + k_key + R"("})"));
  const boxd::Error e = expect_error(server.url());
  CHECK(e.error_class() == ErrorClass::Authentication);
  CHECK(std::string(e.what()) ==
        "invalid API key (the key exchange at " + server.url() + " refused it)");
  CHECK(e.hint() == "run 'boxd auth login'");
}

TEST_CASE("exchange: 429 is quota exceeded") {
  FakeExchange server(answer(429, "{}"));
  const boxd::Error e = expect_error(server.url());
  CHECK(e.error_class() == ErrorClass::QuotaExceeded);
  CHECK(std::string(e.what()).find("rate limited by the key exchange") != std::string::npos);
}

TEST_CASE("exchange: 5xx is a connection error") {
  for (int status : {500, 502, 503}) {
    CAPTURE(status);
    FakeExchange server(answer(status, "oops"));
    CHECK(expect_error(server.url()).error_class() == ErrorClass::Connection);
  }
}

TEST_CASE("exchange: a malformed 200 is an internal error") {
  for (const std::string body :
       {"not json", "[]", R"({"expires_at":1,"user_id":"u"})",
        R"({"token":5,"expires_at":1,"user_id":"u"})",
        R"({"token":"t","expires_at":"soon","user_id":"u"})", R"({"token":"t","expires_at":1})",
        R"({"token":"","expires_at":1,"user_id":"u"})"}) {
    CAPTURE(body);
    FakeExchange server(answer(200, body));
    const boxd::Error e = expect_error(server.url());
    CHECK(e.error_class() == ErrorClass::Internal);
    CHECK(std::string(e.what()).find("malformed") != std::string::npos);
  }
}

TEST_CASE("exchange: an oversized body is refused") {
  std::string huge =
      R"({"token":")" + std::string(200 * 1024, 'a') + R"(","expires_at":1,"user_id":"u"})";
  FakeExchange server(answer(200, huge));
  const boxd::Error e = expect_error(server.url());
  CHECK(e.error_class() == ErrorClass::Internal);
  CHECK(std::string(e.what()).find("larger than 64 KiB") != std::string::npos);
}

TEST_CASE("exchange: a redirect is never followed") {
  std::string target;
  FakeExchange server([&target](const std::string&, httplib::Response& res) {
    res.status = 302;
    res.set_header("Location", target);
  });
  target = server.base() + "/elsewhere";
  const boxd::Error e = expect_error(server.url());
  CHECK(e.error_class() == ErrorClass::Internal);
  CHECK(std::string(e.what()).find("unexpected redirect from the key exchange") !=
        std::string::npos);
  CHECK_FALSE(server.followed_redirect());
}

TEST_CASE("exchange: nothing listening is a connection error naming the URL") {
  std::string url;
  {
    FakeExchange server(answer(200, "{}"));
    url = server.url();
  }  // closed: the port is free again
  const boxd::Error e = expect_error(url);
  CHECK(e.error_class() == ErrorClass::Connection);
  CHECK(std::string(e.what()).find(url) != std::string::npos);
}

TEST_CASE("exchange: a non-HTTP URL is a usage error") {
  CHECK(expect_error("ftp://127.0.0.1:1/token").error_class() == ErrorClass::Usage);
}

TEST_CASE("exchange: the response parser takes exactly the body's fields") {
  using boxd::client::parse_exchange_response;
  const std::string url = "http://127.0.0.1:1/x";
  const auto ok = parse_exchange_response(
      R"({"token":"t.u.v","expires_at":1900000000,"user_id":"alice"})", url);
  CHECK(ok.token == "t.u.v");
  CHECK(ok.expires_at == 1900000000);
  CHECK(ok.user_id == "alice");
  for (const char* body :
       {R"({"token":"t","expires_at":18446744073709551615,"user_id":"u"})",
        R"({"token":"t","expires_at":1.5,"user_id":"u"})",
        R"({"token":"","expires_at":1,"user_id":"u"})",
        R"({"token":"t","expires_at":1,"user_id":7})", R"(["t"])", "<html>captive portal</html>"}) {
    CAPTURE(body);
    try {
      parse_exchange_response(body, url);
      FAIL("accepted");
    } catch (const boxd::Error& error) {
      CHECK(error.error_class() == ErrorClass::Internal);
      CHECK(std::string(error.what()) == "malformed response from the key exchange at " + url);
    }
  }
}
