// The on-disk cache of exchanged JWTs (docs/design.md, section 3):
// <cache_dir>/tokens/<sha256_hex(exchange_url + "\n" + api_key)>.json, mode
// 0600 in a 0700 directory, {"token": "...", "expires_at": N}. A token is
// reused until k_token_refresh_margin before it expires.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace boxd::client {

inline constexpr std::int64_t k_token_refresh_margin_secs = 5 * 60;

struct CachedToken {
  std::string token;            // never log
  std::int64_t expires_at = 0;  // unix seconds
};

// True when the token can still be used at `now` (unix seconds): it expires
// more than k_token_refresh_margin_secs from now.
bool token_fresh(std::int64_t expires_at, std::int64_t now);

std::int64_t unix_now();

class TokenCache {
 public:
  // dir: the tokens directory itself (cache_dir()/"tokens" by default).
  explicit TokenCache(std::filesystem::path dir);
  static TokenCache default_cache();

  std::filesystem::path path_for(const std::string& exchange_url, const std::string& api_key) const;
  // The cached token if present, well-formed and fresh at `now`.
  std::optional<CachedToken> load(const std::string& exchange_url, const std::string& api_key,
                                  std::int64_t now) const;
  // Best effort: a cache that cannot be written only costs an exchange.
  // Returns false when writing failed.
  bool store(const std::string& exchange_url, const std::string& api_key,
             const CachedToken& token) const;
  void drop(const std::string& exchange_url, const std::string& api_key) const;

 private:
  std::filesystem::path m_dir;
};

}  // namespace boxd::client
