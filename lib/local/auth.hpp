// Authentication for boxd local: API keys -> JWTs -> a user on every RPC.
//
// How it works: users are given as API keys (`--api-key KEY=USER`, or one key
// generated on first start and kept in <state_dir>/api_key for user "local").
// The HTTP exchange trades a key for an HS256 JWT (sub = user, jti = random,
// iat, exp = now + ttl) signed with a secret generated once per state dir
// (<state_dir>/jwt_secret, 0600), so tokens survive a restart of the server
// but not a new state dir. Every RPC presents `authorization: Bearer <jwt>`;
// check() verifies the signature, the expiry, the revocation list (jtis
// persisted in the store) and that the token's key is still one of the
// server's: a token names the API key it comes from ("akid", an id derived
// from the key and the secret that does not reveal the key; a CreateToken
// token inherits its caller's), so removing or replacing a key ends every
// token made from it at once. A token without one (made before tokens
// named their key) stands while its user has any key, if it is short-lived
// or listed (ListTokens), and cannot make new tokens.
//
// What can go wrong: comparing keys with memcmp leaks timing, so keys are
// compared as SHA-256 digests with CRYPTO_memcmp. Keys and tokens never go
// into messages or logs; only user ids and jtis do.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "common/jwt.hpp"
#include "local/store.hpp"

namespace boxd::local {

struct IssuedToken {
  std::string token;
  std::string jti;
  std::string user_id;
  std::int64_t issued_at = 0;
  std::int64_t expires_at = 0;
};

enum class AuthFailure { None, Missing, Invalid, Revoked };

struct AuthResult {
  AuthFailure failure = AuthFailure::None;
  std::string user_id;
  std::string jti;
  std::string key_id;  // the API key the token comes from ("" for an older token)
  // The message of docs/wire-contract.md section 8 for the failure ("" when None).
  std::string message() const;
};

class Auth {
 public:
  // keys: API key -> user id.
  Auth(Store& store, const std::map<std::string, std::string>& keys, std::int64_t token_ttl_secs);

  // The user an API key belongs to (constant-time comparison), or nullopt.
  std::optional<std::string> user_for_key(const std::string& api_key) const;

  // A token for the key's user (the exchange endpoint), or nullopt.
  std::optional<IssuedToken> exchange(const std::string& api_key);

  // Signs a token for user, from the API key `key_id` names. ttl_secs 0 =
  // the server default. When `record`, the token is listed by ListTokens
  // (CreateToken); exchange tokens are not.
  IssuedToken issue(const std::string& user_id, const std::string& key_id, std::int64_t ttl_secs,
                    bool record);

  // Checks an `authorization` metadata value ("Bearer <jwt>"); nullopt = absent.
  AuthResult check(const std::optional<std::string>& authorization) const;

  std::int64_t token_ttl() const { return m_ttl; }

 private:
  Store& m_store;
  std::string m_secret;
  std::map<std::string, std::string> m_key_digests;  // sha256_hex(key) -> user
  std::map<std::string, std::string> m_key_ids;      // key id ("akid") -> user
  std::int64_t m_ttl;

  std::string key_id_of(const std::string& key_digest) const;
  bool key_stands(const JwtClaims& claims) const;
};

// The per-state-dir signing secret (<dir>/jwt_secret, created 0600 on first use).
std::string load_or_create_secret(const std::filesystem::path& state_dir);

// The generated key of user "local" (<dir>/api_key, created 0600 on first use).
std::string load_or_create_api_key(const std::filesystem::path& state_dir);

// "bxd_" + 40 random base62 characters.
std::string generate_api_key();

// Parses "KEY=USER" (the user must be a valid name). Throws boxd::Error(Usage).
std::pair<std::string, std::string> parse_key_flag(const std::string& flag);

}  // namespace boxd::local
