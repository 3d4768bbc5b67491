#include <doctest/doctest.h>
#include <sys/stat.h>

#include "common/error.hpp"
#include "common/jwt.hpp"
#include "local/auth.hpp"
#include "local/store.hpp"
#include "local_test_support.hpp"

using namespace boxd::local;

TEST_CASE("an API key is exchanged for a verifiable token of its user") {
  test::TempDir dir;
  Store store(dir.path());
  Auth auth(store, {{"bxd_alice", "alice"}, {"bxd_bob", "bob"}}, 600);
  CHECK_FALSE(auth.exchange("bxd_nobody"));
  auto issued = auth.exchange("bxd_bob");
  REQUIRE(issued);
  CHECK(issued->user_id == "bob");
  CHECK(issued->expires_at - issued->issued_at == 600);
  auto result = auth.check("Bearer " + issued->token);
  CHECK(result.failure == AuthFailure::None);
  CHECK(result.user_id == "bob");
  CHECK(result.jti == issued->jti);
  // Exchange tokens are not listed as API tokens.
  CHECK(store.read([](const StoreData& d) { return d.tokens.size(); }) == 0);
}

TEST_CASE("missing, malformed, foreign, expired and revoked tokens are refused") {
  test::TempDir dir;
  Store store(dir.path());
  Auth auth(store, {{"bxd_alice", "alice"}}, 600);
  CHECK(auth.check(std::nullopt).message() == "missing authorization");
  CHECK(auth.check(std::string("")).message() == "missing authorization");
  CHECK(auth.check(std::string("Bearer not-a-jwt")).message() == "invalid or expired token");
  CHECK(auth.check(std::string("Basic abc")).message() == "invalid or expired token");

  boxd::JwtClaims claims;
  claims.subject = "alice";
  claims.jti = "x";
  claims.issued_at = 1;
  claims.expires_at = 4102444800;  // 2100
  const auto foreign = boxd::jwt_sign(claims, "another-secret-another-secret-xx");
  CHECK(auth.check("Bearer " + foreign).failure == AuthFailure::Invalid);
  // A header whose "alg" is not a string is invalid, not an exception (the
  // Exec RPC authenticates outside the handler's try; found by fuzz_jwt).
  const auto odd_alg =
      boxd::base64url_encode(R"({"alg":1})") + "." + foreign.substr(foreign.find('.') + 1);
  CHECK(auth.check("Bearer " + odd_alg).failure == AuthFailure::Invalid);

  const auto secret = load_or_create_secret(dir.path());
  claims.expires_at = 2;  // long ago
  CHECK(auth.check("Bearer " + boxd::jwt_sign(claims, secret)).failure == AuthFailure::Invalid);

  auto token = auth.issue("alice", auth.check("Bearer " + auth.exchange("bxd_alice")->token).key_id,
                          0, true);
  CHECK(auth.check("Bearer " + token.token).failure == AuthFailure::None);
  store.update([&](StoreData& d) { d.revoked[token.jti] = token.expires_at; });
  const auto revoked = auth.check("Bearer " + token.token);
  CHECK(revoked.failure == AuthFailure::Revoked);
  CHECK(revoked.message() == "token revoked");
}

TEST_CASE("the signing secret and the generated key persist, mode 0600") {
  test::TempDir dir;
  const auto secret = load_or_create_secret(dir.path());
  CHECK(secret.size() >= 32);
  CHECK(load_or_create_secret(dir.path()) == secret);
  const auto key = load_or_create_api_key(dir.path());
  CHECK(key.rfind("bxd_", 0) == 0);
  CHECK(key.size() == 44);
  CHECK(load_or_create_api_key(dir.path()) == key);
  struct stat st {};
  REQUIRE(::stat((dir.path() / "api_key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((dir.path() / "jwt_secret").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // A token signed before a "restart" still verifies after it.
  Store store(dir.path());
  std::string token;
  {
    Auth before(store, {{key, "local"}}, 60);
    token = before.exchange(key)->token;
  }
  Auth after(store, {{key, "local"}}, 60);
  CHECK(after.check("Bearer " + token).user_id == "local");
}

TEST_CASE("--api-key takes KEY=USER") {
  CHECK(parse_key_flag("bxd_abc=alice") == std::pair<std::string, std::string>{"bxd_abc", "alice"});
  CHECK_THROWS_AS(parse_key_flag("bxd_abc"), boxd::Error);
  CHECK_THROWS_AS(parse_key_flag("=alice"), boxd::Error);
  CHECK_THROWS_AS(parse_key_flag("bxd_abc="), boxd::Error);
  CHECK_THROWS_AS(parse_key_flag("bxd_abc=Not_Valid"), boxd::Error);
}

TEST_CASE("a token ends with the API key it comes from") {
  test::TempDir dir;
  Store store(dir.path());
  std::string from_key;
  std::string derived;  // a CreateToken token made with from_key's token
  std::string older;    // a token that names no key (made before tokens did)
  {
    Auth auth(store, {{"bxd_alice", "alice"}, {"bxd_bob", "bob"}}, 600);
    from_key = auth.exchange("bxd_alice")->token;
    const auto caller = auth.check("Bearer " + from_key);
    REQUIRE(caller.failure == AuthFailure::None);
    CHECK_FALSE(caller.key_id.empty());
    CHECK(caller.key_id.find("bxd_alice") == std::string::npos);
    CHECK(auth.check("Bearer " + auth.exchange("bxd_bob")->token).key_id != caller.key_id);
    derived = auth.issue("alice", caller.key_id, 3600, true).token;
    CHECK(auth.check("Bearer " + derived).key_id == caller.key_id);
    older = auth.issue("alice", "", 600, false).token;  // an exchange token of before
    CHECK(auth.check("Bearer " + older).failure == AuthFailure::None);
    // An older token that lives longer than exchange tokens stands only if
    // it is listed (so its owner sees it and can revoke it).
    CHECK(auth.check("Bearer " + auth.issue("alice", "", 3600, false).token).failure ==
          AuthFailure::Invalid);
    CHECK(auth.check("Bearer " + auth.issue("alice", "", 3600, true).token).failure ==
          AuthFailure::None);
  }
  // The same server again with alice's key unchanged: all three stand.
  {
    Auth auth(store, {{"bxd_alice", "alice"}}, 600);
    for (const auto& token : {from_key, derived, older}) {
      CHECK(auth.check("Bearer " + token).failure == AuthFailure::None);
    }
  }
  // Alice's key replaced: the tokens from the old one end; the older token
  // stands while alice has a key.
  {
    Auth auth(store, {{"bxd_alice2", "alice"}}, 600);
    CHECK(auth.check("Bearer " + from_key).failure == AuthFailure::Invalid);
    CHECK(auth.check("Bearer " + derived).failure == AuthFailure::Invalid);
    CHECK(auth.check("Bearer " + older).failure == AuthFailure::None);
  }
  // The key given to another user: its tokens do not become that user's.
  {
    Auth auth(store, {{"bxd_alice", "mallory"}}, 600);
    CHECK(auth.check("Bearer " + from_key).failure == AuthFailure::Invalid);
  }
  // Alice without a key: nothing of hers stands.
  {
    Auth auth(store, {{"bxd_bob", "bob"}}, 600);
    for (const auto& token : {from_key, derived, older}) {
      CHECK(auth.check("Bearer " + token).failure == AuthFailure::Invalid);
    }
  }
}
