#include "local/exchange_body.hpp"

#include <nlohmann/json.hpp>

namespace boxd::local {

std::optional<std::string> api_key_from_exchange_body(std::string_view body) {
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return std::nullopt;
  }
  const auto key = doc.find("api_key");
  if (key == doc.end() || !key->is_string()) {
    return std::nullopt;
  }
  return key->get<std::string>();
}

}  // namespace boxd::local
