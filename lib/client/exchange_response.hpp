// The key exchange's 200 body, as the client reads it:
//   {"token":"<jwt>","expires_at":<unix s>,"user_id":"..."}
// The body comes from whatever answers at the exchange URL (a proxy, a
// captive portal, a misconfigured server), so it is parsed defensively:
// tests/fuzz/fuzz_exchange_response.cpp holds it to never crashing and to
// returning exactly the strings the JSON holds.
#pragma once

#include <cstdint>
#include <string>

namespace boxd::client {

// The same fields as client.hpp's ExchangeResult, without its gRPC headers
// (the fuzz build compiles this file alone).
struct ExchangeFields {
  std::string token;
  std::int64_t expires_at = 0;
  std::string user_id;
};

// Throws Error(Internal, "malformed response from the key exchange at URL")
// unless the body is a JSON object with a non-empty string token, an integer
// expires_at and a string user_id. The message never quotes the body.
ExchangeFields parse_exchange_response(const std::string& body, const std::string& url);

}  // namespace boxd::client
