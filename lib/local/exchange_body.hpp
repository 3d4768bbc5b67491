// The body of a key-exchange request (POST /api/v1/auth/token on the
// server's HTTP endpoint): {"api_key": "bxd_..."}. Outside input, read
// before any authentication, so it is parsed here, apart, and fuzzed
// (tests/fuzz/fuzz_exchange_body.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace boxd::local {

// The API key in a request body, or nullopt when the body is not a JSON
// object with a string "api_key". Never throws.
std::optional<std::string> api_key_from_exchange_body(std::string_view body);

}  // namespace boxd::local
