// The JWT cache: file mode, reuse until five minutes before expiry, drop.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "client/token_cache.hpp"
#include "common/files.hpp"
#include "common/jwt.hpp"
#include "common/sha256.hpp"

using boxd::client::CachedToken;
using boxd::client::TokenCache;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "boxd-cache-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

unsigned mode_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

const std::string k_url = "http://127.0.0.1:9444/api/v1/auth/token";
const std::string k_key = "bxd_cachekey";
constexpr std::int64_t k_now = 1'800'000'000;

}  // namespace

TEST_CASE("token cache: stored 0600 in a 0700 dir, named by the hash, without the key") {
  TempDir tmp;
  TokenCache cache(tmp.path / "tokens");
  REQUIRE(cache.store(k_url, k_key, {"jwt.one", k_now + 3600}));
  const auto file = cache.path_for(k_url, k_key);
  CHECK(file == tmp.path / "tokens" / (boxd::sha256_hex(k_url + "\n" + k_key) + ".json"));
  CHECK(mode_of(file) == 0600);
  CHECK(mode_of(tmp.path / "tokens") == 0700);
  const std::string content = boxd::read_file(file).value_or("");
  CHECK(content.find(k_key) == std::string::npos);
  CHECK(content.find("jwt.one") != std::string::npos);
}

TEST_CASE("token cache: reused before expiry, not within five minutes of it") {
  TempDir tmp;
  TokenCache cache(tmp.path);
  REQUIRE(cache.store(k_url, k_key, {"jwt.one", k_now + 3600}));
  auto hit = cache.load(k_url, k_key, k_now);
  REQUIRE(hit);
  CHECK(hit->token == "jwt.one");
  CHECK(hit->expires_at == k_now + 3600);
  CHECK(cache.load(k_url, k_key, k_now + 3600 - 301));
  CHECK_FALSE(cache.load(k_url, k_key, k_now + 3600 - 300));
  CHECK_FALSE(cache.load(k_url, k_key, k_now + 3600 - 10));
  CHECK_FALSE(cache.load(k_url, k_key, k_now + 4000));
}

TEST_CASE("token cache: keyed by exchange URL and key") {
  TempDir tmp;
  TokenCache cache(tmp.path);
  REQUIRE(cache.store(k_url, k_key, {"jwt.one", k_now + 3600}));
  CHECK_FALSE(cache.load(k_url, "bxd_other", k_now));
  CHECK_FALSE(cache.load("http://127.0.0.1:1/api/v1/auth/token", k_key, k_now));
}

TEST_CASE("token cache: drop removes the entry; corrupt files are a miss") {
  TempDir tmp;
  TokenCache cache(tmp.path);
  REQUIRE(cache.store(k_url, k_key, {"jwt.one", k_now + 3600}));
  cache.drop(k_url, k_key);
  CHECK_FALSE(std::filesystem::exists(cache.path_for(k_url, k_key)));
  CHECK_FALSE(cache.load(k_url, k_key, k_now));
  cache.drop(k_url, k_key);  // dropping twice is fine

  std::ofstream(cache.path_for(k_url, k_key)) << "{broken";
  CHECK_FALSE(cache.load(k_url, k_key, k_now));
  std::ofstream(cache.path_for(k_url, k_key)) << R"({"token": 1, "expires_at": "x"})";
  CHECK_FALSE(cache.load(k_url, k_key, k_now));
}
