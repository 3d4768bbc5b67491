// HS256 JSON Web Tokens: issued and checked by boxd local, decoded (without
// verification) by the client to learn a token's expiry.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/base64.hpp"  // base64url_*, once declared here

namespace boxd {

struct JwtClaims {
  std::string subject;          // "sub": the user id
  std::string jti;              // "jti": token id (revocation)
  std::int64_t issued_at = 0;   // "iat", unix seconds
  std::int64_t expires_at = 0;  // "exp", unix seconds
  std::string key_id;           // "akid": the API key the token comes from ("" = none)
};

// Signs header {"alg":"HS256","typ":"JWT"} + claims with the secret.
std::string jwt_sign(const JwtClaims& claims, std::string_view secret);

// Verifies signature and structure (not expiry). nullopt if invalid.
std::optional<JwtClaims> jwt_verify(std::string_view token, std::string_view secret);

// Reads the claims without checking the signature (client side, for expiry).
std::optional<JwtClaims> jwt_decode_unverified(std::string_view token);

// Cryptographically random bytes as lowercase hex (2*n chars).
std::string random_hex(std::size_t n_bytes);

}  // namespace boxd
