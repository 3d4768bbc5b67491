#include "local/auth.hpp"
#include "common/sha256.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <chrono>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/jwt.hpp"
#include "common/names.hpp"
#include "local/rpc_helpers.hpp"

namespace boxd::local {

namespace {

std::int64_t now_secs() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

}  // namespace

std::string AuthResult::message() const {
  switch (failure) {
    case AuthFailure::None:
      return "";
    case AuthFailure::Missing:
      return "missing authorization";
    case AuthFailure::Invalid:
      return "invalid or expired token";
    case AuthFailure::Revoked:
      return "token revoked";
  }
  return "";
}

std::string generate_api_key() {
  static constexpr char k_alphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string key = "bxd_";
  while (key.size() < 44) {
    unsigned char buf[64];
    if (RAND_bytes(buf, sizeof buf) != 1) {
      throw Error(ErrorClass::Internal, "no randomness available");
    }
    for (unsigned char c : buf) {
      if (c < 248 && key.size() < 44) {  // 248 = 4 * 62: no modulo bias
        key.push_back(k_alphabet[c % 62]);
      }
    }
  }
  return key;
}

std::string load_or_create_secret(const std::filesystem::path& state_dir) {
  const auto path = state_dir / "jwt_secret";
  if (auto text = read_file(path)) {
    auto secret = trim(*text);
    if (secret.size() >= 32) {
      return secret;
    }
  }
  auto secret = random_hex(32);
  write_file_atomic(path, secret + "\n", 0600);
  return secret;
}

std::string load_or_create_api_key(const std::filesystem::path& state_dir) {
  const auto path = state_dir / "api_key";
  if (auto text = read_file(path)) {
    auto key = trim(*text);
    if (!key.empty()) {
      return key;
    }
  }
  auto key = generate_api_key();
  write_file_atomic(path, key + "\n", 0600);
  return key;
}

std::pair<std::string, std::string> parse_key_flag(const std::string& flag) {
  const auto eq = flag.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == flag.size()) {
    throw Error(ErrorClass::Usage, "--api-key takes KEY=USER");
  }
  std::string user = flag.substr(eq + 1);
  if (!is_valid_name(user)) {
    throw Error(ErrorClass::Usage, "invalid user '" + user + "' in --api-key: use a DNS label");
  }
  return {flag.substr(0, eq), user};
}

Auth::Auth(Store& store, const std::map<std::string, std::string>& keys,
           std::int64_t token_ttl_secs)
    : m_store(store), m_secret(load_or_create_secret(store.dir())), m_ttl(token_ttl_secs) {
  for (const auto& [key, user] : keys) {
    const auto digest = sha256_hex(key);
    m_key_digests[digest] = user;
    m_key_ids[key_id_of(digest)] = user;
  }
}

// An id for the key that tokens can carry: it names the key without
// revealing it (whoever holds a token learns nothing to test key guesses
// against without the secret).
std::string Auth::key_id_of(const std::string& key_digest) const {
  return sha256_hex("boxd-akid\n" + m_secret + "\n" + key_digest).substr(0, 32);
}

std::optional<std::string> Auth::user_for_key(const std::string& api_key) const {
  const auto digest = sha256_hex(api_key);
  std::optional<std::string> found;
  for (const auto& [known, user] : m_key_digests) {
    if (known.size() == digest.size() &&
        CRYPTO_memcmp(known.data(), digest.data(), digest.size()) == 0) {
      found = user;
    }
  }
  return found;
}

std::optional<IssuedToken> Auth::exchange(const std::string& api_key) {
  auto user = user_for_key(api_key);
  if (!user) {
    return std::nullopt;
  }
  return issue(*user, key_id_of(sha256_hex(api_key)), 0, false);
}

IssuedToken Auth::issue(const std::string& user_id, const std::string& key_id,
                        std::int64_t ttl_secs, bool record) {
  IssuedToken t;
  t.user_id = user_id;
  t.jti = random_hex(16);
  t.issued_at = now_secs();
  t.expires_at = t.issued_at + (ttl_secs > 0 ? ttl_secs : m_ttl);
  JwtClaims claims;
  claims.subject = user_id;
  claims.jti = t.jti;
  claims.issued_at = t.issued_at;
  claims.expires_at = t.expires_at;
  claims.key_id = key_id;
  t.token = jwt_sign(claims, m_secret);
  if (record) {
    m_store.update([&](StoreData& data) {
      const auto now = now_secs();
      std::erase_if(data.tokens, [now](const TokenRecord& r) { return r.expires_at < now; });
      rpc::check_record_room(
          data.tokens,
          [&](const TokenRecord& r) {
            return r.owner == user_id && data.revoked.count(r.jti) == 0;
          },
          m_store.record_limit(), "tokens");
      data.tokens.push_back(TokenRecord{t.jti, user_id, t.issued_at, t.expires_at});
    });
  }
  return t;
}

// The key the token comes from must still be the server's, for the same
// user. An older token without one: its user must still have a key, and it
// must be short-lived (an exchange token) or listed (a CreateToken one,
// which its owner can see and revoke).
bool Auth::key_stands(const JwtClaims& claims) const {
  if (!claims.key_id.empty()) {
    const auto it = m_key_ids.find(claims.key_id);
    return it != m_key_ids.end() && it->second == claims.subject;
  }
  const bool user_has_key = std::any_of(m_key_ids.begin(), m_key_ids.end(), [&](const auto& entry) {
    return entry.second == claims.subject;
  });
  if (!user_has_key) {
    return false;
  }
  return claims.expires_at - claims.issued_at <= m_ttl || m_store.read([&](const StoreData& data) {
    return std::any_of(data.tokens.begin(), data.tokens.end(),
                       [&](const TokenRecord& r) { return r.jti == claims.jti; });
  });
}

AuthResult Auth::check(const std::optional<std::string>& authorization) const {
  AuthResult result;
  if (!authorization || authorization->empty()) {
    result.failure = AuthFailure::Missing;
    return result;
  }
  static constexpr std::string_view k_prefix = "Bearer ";
  std::string_view value = *authorization;
  auto scheme = std::string(value.substr(0, std::min(value.size(), k_prefix.size())));
  for (auto& c : scheme) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (value.size() <= k_prefix.size() || scheme != "bearer ") {
    result.failure = AuthFailure::Invalid;
    return result;
  }
  value.remove_prefix(k_prefix.size());
  auto claims = jwt_verify(value, m_secret);
  if (!claims || claims->subject.empty() || claims->expires_at <= now_secs()) {
    result.failure = AuthFailure::Invalid;
    return result;
  }
  if (!key_stands(*claims)) {
    result.failure = AuthFailure::Invalid;
    return result;
  }
  const bool revoked =
      m_store.read([&](const StoreData& data) { return data.revoked.count(claims->jti) > 0; });
  if (revoked) {
    result.failure = AuthFailure::Revoked;
    return result;
  }
  result.user_id = claims->subject;
  result.jti = claims->jti;
  result.key_id = claims->key_id;
  return result;
}

}  // namespace boxd::local
