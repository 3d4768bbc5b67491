// HS256 JWTs: header.payload.signature, each base64url without padding; the
// signature is HMAC-SHA256(secret, header "." payload). Verification compares
// the MAC in constant time and insists on alg HS256, so a token cannot
// downgrade itself to "none". Expiry is the caller's business (the server
// checks it against its clock; the client only reads it to plan a refresh).
#include "common/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <nlohmann/json.hpp>

#include <array>
#include <stdexcept>

#include "common/base64.hpp"
#include "common/error.hpp"

namespace boxd {

namespace {

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &len);
  return std::string(reinterpret_cast<const char*>(mac.data()), len);
}

std::optional<JwtClaims> claims_from_payload(std::string_view payload_b64) {
  auto payload = base64url_decode(payload_b64);
  if (!payload) {
    return std::nullopt;
  }
  auto json = nlohmann::json::parse(*payload, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return std::nullopt;
  }
  JwtClaims claims;
  if (auto it = json.find("sub"); it != json.end() && it->is_string()) {
    claims.subject = it->get<std::string>();
  }
  if (auto it = json.find("jti"); it != json.end() && it->is_string()) {
    claims.jti = it->get<std::string>();
  }
  if (auto it = json.find("iat"); it != json.end() && it->is_number_integer()) {
    claims.issued_at = it->get<std::int64_t>();
  }
  if (auto it = json.find("akid"); it != json.end() && it->is_string()) {
    claims.key_id = it->get<std::string>();
  }
  auto exp = json.find("exp");
  if (exp == json.end() || !exp->is_number_integer()) {
    return std::nullopt;
  }
  claims.expires_at = exp->get<std::int64_t>();
  return claims;
}

}  // namespace

std::string jwt_sign(const JwtClaims& claims, std::string_view secret) {
  const std::string header = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  nlohmann::json payload = {{"sub", claims.subject},
                            {"jti", claims.jti},
                            {"iat", claims.issued_at},
                            {"exp", claims.expires_at}};
  if (!claims.key_id.empty()) {
    payload["akid"] = claims.key_id;
  }
  const std::string signing_input = header + "." + base64url_encode(payload.dump());
  return signing_input + "." + base64url_encode(hmac_sha256(secret, signing_input));
}

std::optional<JwtClaims> jwt_verify(std::string_view token, std::string_view secret) {
  const auto first = token.find('.');
  const auto second = token.find('.', first == std::string_view::npos ? 0 : first + 1);
  if (first == std::string_view::npos || second == std::string_view::npos ||
      token.find('.', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  auto header = base64url_decode(token.substr(0, first));
  if (!header) {
    return std::nullopt;
  }
  // Compared as JSON: an "alg" that is not a string (value() would throw on
  // it) is just not HS256.
  auto header_json = nlohmann::json::parse(*header, nullptr, false);
  if (header_json.is_discarded() || !header_json.is_object() || !header_json.contains("alg") ||
      header_json["alg"] != "HS256") {
    return std::nullopt;
  }
  const std::string expected = hmac_sha256(secret, token.substr(0, second));
  auto given = base64url_decode(token.substr(second + 1));
  if (!given || given->size() != expected.size() ||
      CRYPTO_memcmp(given->data(), expected.data(), expected.size()) != 0) {
    return std::nullopt;
  }
  return claims_from_payload(token.substr(first + 1, second - first - 1));
}

std::optional<JwtClaims> jwt_decode_unverified(std::string_view token) {
  const auto first = token.find('.');
  if (first == std::string_view::npos) {
    return std::nullopt;
  }
  const auto second = token.find('.', first + 1);
  if (second == std::string_view::npos) {
    return std::nullopt;
  }
  return claims_from_payload(token.substr(first + 1, second - first - 1));
}

std::string random_hex(std::size_t n_bytes) {
  std::string bytes(n_bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n_bytes)) != 1) {
    throw Error(ErrorClass::Internal, "cannot get random bytes");
  }
  return hex_encode(bytes);
}

}  // namespace boxd
