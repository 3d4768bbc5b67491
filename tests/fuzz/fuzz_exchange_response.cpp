// The key exchange's answer as the CLI reads it: whatever answers at the
// exchange URL (a proxy, a captive portal) writes this body. Parsing never
// crashes, fails only with the fixed "malformed response" message (never
// quoting the body), and returns exactly the JSON's strings.
#include <nlohmann/json.hpp>

#include "client/exchange_response.hpp"
#include "common/error.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using boxd::fuzz::require;
  const std::string body(boxd::fuzz::as_text(data, size));
  const std::string url = "http://127.0.0.1:1/api/v1/auth/token";
  boxd::client::ExchangeFields result;
  try {
    result = boxd::client::parse_exchange_response(body, url);
  } catch (const boxd::Error& error) {
    require(std::string(error.what()) == "malformed response from the key exchange at " + url,
            "a refusal is the fixed message, never the body");
    return 0;
  }
  const auto doc = nlohmann::json::parse(body);
  require(!result.token.empty() && doc.at("token") == result.token, "the token is the body's");
  require(doc.at("user_id") == result.user_id, "the user is the body's");
  require(doc.at("expires_at") == result.expires_at, "the expiry is the body's");
  return 0;
}
