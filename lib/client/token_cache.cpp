// JWT cache: a script making 100 calls should exchange its key once.
//
// The file name is a SHA-256 over the exchange URL and the key, so one file
// per (server, key) pair, and the key itself is never written anywhere. The
// file is written with write_file_atomic (temp file created 0600, fsync,
// rename), so a concurrent reader sees the old token or the new one, never a
// torn file; two processes racing to refresh both exchange and the last
// rename wins, which is harmless. Anything unreadable (corrupt JSON, wrong
// types, I/O errors) is treated as a miss, never as an error: the cache can
// only save work, not break a call.
#include "client/token_cache.hpp"
#include "common/sha256.hpp"

#include <chrono>
#include <system_error>

#include <nlohmann/json.hpp>

#include "common/files.hpp"
#include "common/jwt.hpp"
#include "common/paths.hpp"

namespace boxd::client {

bool token_fresh(std::int64_t expires_at, std::int64_t now) {
  return expires_at - now > k_token_refresh_margin_secs;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TokenCache::TokenCache(std::filesystem::path dir) : m_dir(std::move(dir)) {}

TokenCache TokenCache::default_cache() {
  return TokenCache(cache_dir() / "tokens");
}

std::filesystem::path TokenCache::path_for(const std::string& exchange_url,
                                           const std::string& api_key) const {
  return m_dir / (sha256_hex(exchange_url + "\n" + api_key) + ".json");
}

std::optional<CachedToken> TokenCache::load(const std::string& exchange_url,
                                            const std::string& api_key, std::int64_t now) const {
  std::optional<std::string> text;
  try {
    text = read_file(path_for(exchange_url, api_key));
  } catch (...) {
    return std::nullopt;
  }
  if (!text) {
    return std::nullopt;
  }
  nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return std::nullopt;
  }
  auto token = doc.find("token");
  auto expires_at = doc.find("expires_at");
  if (token == doc.end() || !token->is_string() || expires_at == doc.end() ||
      !expires_at->is_number_integer()) {
    return std::nullopt;
  }
  CachedToken cached{token->get<std::string>(), expires_at->get<std::int64_t>()};
  if (cached.token.empty() || !token_fresh(cached.expires_at, now)) {
    return std::nullopt;
  }
  return cached;
}

bool TokenCache::store(const std::string& exchange_url, const std::string& api_key,
                       const CachedToken& token) const {
  try {
    ensure_dir(m_dir, 0700);
    const nlohmann::json doc = {{"token", token.token}, {"expires_at", token.expires_at}};
    write_file_atomic(path_for(exchange_url, api_key), doc.dump(), 0600);
    return true;
  } catch (...) {
    return false;
  }
}

void TokenCache::drop(const std::string& exchange_url, const std::string& api_key) const {
  std::error_code ec;
  std::filesystem::remove(path_for(exchange_url, api_key), ec);
}

}  // namespace boxd::client
