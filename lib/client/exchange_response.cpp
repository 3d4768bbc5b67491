#include "client/exchange_response.hpp"

#include <cstdint>

#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace boxd::client {

ExchangeFields parse_exchange_response(const std::string& body, const std::string& url) {
  const Error malformed(ErrorClass::Internal, "malformed response from the key exchange at " + url);
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    throw malformed;
  }
  auto token = doc.find("token");
  auto expires_at = doc.find("expires_at");
  auto user_id = doc.find("user_id");
  if (token == doc.end() || !token->is_string() || token->get<std::string>().empty() ||
      expires_at == doc.end() || !expires_at->is_number_integer() || user_id == doc.end() ||
      !user_id->is_string()) {
    throw malformed;
  }
  // An unsigned value past INT64_MAX would wrap to a negative expiry.
  if (expires_at->is_number_unsigned() &&
      expires_at->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    throw malformed;
  }
  ExchangeFields result;
  result.token = token->get<std::string>();
  result.expires_at = expires_at->get<std::int64_t>();
  result.user_id = user_id->get<std::string>();
  return result;
}

}  // namespace boxd::client
