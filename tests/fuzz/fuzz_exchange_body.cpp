// The key-exchange request body (POST /api/v1/auth/token), read by the
// server from anyone before authentication: never throws or crashes, and a
// key it finds is exactly the string the JSON holds.
#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "local/exchange_body.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using boxd::fuzz::require;
  const auto body = boxd::fuzz::as_text(data, size);
  const auto key = boxd::local::api_key_from_exchange_body(body);
  if (!key) {
    return 0;
  }
  const auto doc = nlohmann::json::parse(body);
  require(doc.is_object() && doc.at("api_key") == *key, "the key is the body's api_key string");
  const std::string again = nlohmann::json{{"api_key", *key}}.dump();
  require(boxd::local::api_key_from_exchange_body(again) == key, "a key survives a round trip");
  return 0;
}
