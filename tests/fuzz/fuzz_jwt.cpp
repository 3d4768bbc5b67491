// JWTs: jwt_verify (the server, on every RPC, before anything else) and
// jwt_decode_unverified (the client, on a cached or given token).
//
// Three views of one input: (1) the bytes as a token; (2) header and payload
// JSON (split at the line "%%"), signed with the server's secret, so the
// fuzzer reaches the claims parsing behind a valid signature; (3) claims
// built from the input, signed, and read back. Nothing may throw or crash,
// a token signed with another secret never verifies, and base64url round-trips.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <string>

#include <nlohmann/json.hpp>

#include "common/jwt.hpp"
#include "fuzz_support.hpp"

namespace {

constexpr std::string_view k_secret = "fuzz-secret-0123456789abcdef0123";

std::string hmac(std::string_view key, std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac.data(), &length);
  return {reinterpret_cast<const char*>(mac.data()), length};
}

std::string signed_token(std::string_view header, std::string_view payload,
                         std::string_view secret) {
  const std::string input = boxd::base64url_encode(header) + "." + boxd::base64url_encode(payload);
  return input + "." + boxd::base64url_encode(hmac(secret, input));
}

// jwt_sign takes user ids and hex token ids: text, never arbitrary bytes.
bool is_utf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using boxd::fuzz::require;
  const auto text = boxd::fuzz::as_text(data, size);

  // (1) Any bytes.
  (void)boxd::jwt_verify(text, k_secret);
  (void)boxd::jwt_decode_unverified(text);
  if (const auto decoded = boxd::base64url_decode(text)) {
    require(boxd::base64url_decode(boxd::base64url_encode(*decoded)) == decoded,
            "base64url decode(encode(x)) == x");
  }
  require(boxd::base64url_decode(boxd::base64url_encode(text)) == std::string(text),
          "base64url decode(encode(bytes)) == bytes");

  // (2) Header and payload JSON behind a valid signature.
  const auto part = boxd::fuzz::fields(text, 2);
  const std::string token = signed_token(part[0], part[1], k_secret);
  const auto verified = boxd::jwt_verify(token, k_secret);
  const auto unverified = boxd::jwt_decode_unverified(token);
  if (verified) {
    require(unverified && unverified->expires_at == verified->expires_at &&
                unverified->subject == verified->subject,
            "a verified token decodes to the same claims");
  }
  require(!boxd::jwt_verify(signed_token(part[0], part[1], "another secret"), k_secret),
          "a token signed with another secret never verifies");

  // (3) Claims from the input, signed and read back.
  if (!is_utf8(part[0]) || !is_utf8(part[1])) {
    return 0;
  }
  boxd::JwtClaims claims;
  claims.subject = part[0];
  claims.jti = part[1];
  claims.expires_at = static_cast<std::int64_t>(size) * 1000003 - 7;
  const auto back = boxd::jwt_verify(boxd::jwt_sign(claims, k_secret), k_secret);
  require(back && back->subject == claims.subject && back->jti == claims.jti &&
              back->expires_at == claims.expires_at,
          "jwt_verify(jwt_sign(claims)) == claims");
  return 0;
}
