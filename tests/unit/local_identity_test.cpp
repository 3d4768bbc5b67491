// Identity and tokens (identity.hpp) over a real Auth and store: who the
// caller is, and the life of a recorded token (created, listed, accepted,
// revoked, refused).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/base64.hpp"
#include "fake_runtime.hpp"
#include "local/auth.hpp"
#include "local/fault.hpp"
#include "local/identity.hpp"
#include "local/networks.hpp"
#include "local/ssh_keys.hpp"
#include "local/store.hpp"
#include "local_fault_support.hpp"
#include "local_test_support.hpp"

using namespace boxd::local;
using boxd::local::test::failure_of;

namespace {

struct IdentityWorld {
  test::TempDir dir;
  Store store{dir.path()};
  Auth auth{store, {{"bxd_alice", "alice"}, {"bxd_bob", "bob"}}, 600};
  Networks networks{store};
  test::FakeRuntime runtime;
  Identity identity{dir.path(), store, auth, networks, runtime};

  AuthResult check(const std::string& token) const {
    return auth.check(std::string("Bearer ") + token);
  }
  // The caller `user`, calling with a token of its own that is not `jti`.
  AuthResult caller(const std::string& user) { return check(auth.exchange("bxd_" + user)->token); }
};

// An authorized_keys line of an ed25519 key with 32 bytes of `fill`.
std::string key_line(char fill) {
  std::string blob;
  for (const std::string& part : {std::string("ssh-ed25519"), std::string(32, fill)}) {
    const auto size = static_cast<std::uint32_t>(part.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
      blob.push_back(static_cast<char>((size >> shift) & 0xff));
    }
    blob += part;
  }
  return "ssh-ed25519 " + boxd::base64_encode(blob) + " alice@laptop";
}

}  // namespace

TEST_CASE("identity: a created token is listed and accepted; once revoked it is refused") {
  IdentityWorld w;
  const auto token = w.identity.create_token("alice", w.caller("alice").key_id, 0);
  const auto accepted = w.check(token.token);
  CHECK(accepted.failure == AuthFailure::None);
  CHECK(accepted.user_id == "alice");
  const auto listed = w.identity.list_tokens("alice");
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].jti == token.jti);
  CHECK(listed[0].expires_at == token.expires_at);
  CHECK(w.identity.list_tokens("bob").empty());

  w.identity.revoke_token(w.caller("alice"), token.jti);
  const auto refused = w.check(token.token);
  CHECK(refused.failure == AuthFailure::Revoked);
  CHECK(refused.message() == "token revoked");
  CHECK(w.identity.list_tokens("alice").empty());
}

TEST_CASE("identity: another user's token, an unknown or empty jti is NOT_FOUND") {
  IdentityWorld w;
  const auto token = w.identity.create_token("alice", w.caller("alice").key_id, 0);
  const auto bob = w.caller("bob");
  CHECK(failure_of([&] { w.identity.revoke_token(bob, token.jti); }) ==
        std::pair{Fault::NotFound, "token '" + token.jti + "' not found"});
  CHECK(failure_of([&] { w.identity.revoke_token(bob, "nope"); }) ==
        std::pair{Fault::NotFound, std::string("token 'nope' not found")});
  AuthResult no_jti;
  no_jti.user_id = "alice";
  CHECK(failure_of([&] { w.identity.revoke_token(no_jti, ""); }) ==
        std::pair{Fault::NotFound, std::string("token '' not found")});
  CHECK(w.check(token.token).failure == AuthFailure::None);
  CHECK(w.identity.list_tokens("alice").size() == 1);
}

TEST_CASE("identity: a caller may revoke the token it calls with, recorded or not") {
  IdentityWorld w;
  const auto exchanged = *w.auth.exchange("bxd_alice");  // as the key exchange makes them
  const auto self = w.check(exchanged.token);
  REQUIRE(self.failure == AuthFailure::None);
  w.identity.revoke_token(self, self.jti);
  CHECK(w.check(exchanged.token).failure == AuthFailure::Revoked);
}

TEST_CASE("identity: a token's lifetime is the request's, or the server's default") {
  IdentityWorld w;
  const auto short_lived = w.identity.create_token("alice", w.caller("alice").key_id, 60);
  const auto by_default = w.identity.create_token("alice", w.caller("alice").key_id, 0);
  CHECK(short_lived.expires_at - short_lived.issued_at == 60);
  CHECK(by_default.expires_at - by_default.issued_at == 600);
  const auto longest = w.identity.create_token("alice", w.caller("alice").key_id, k_max_token_secs);
  CHECK(longest.expires_at - longest.issued_at == k_max_token_secs);
  CHECK(w.identity.list_tokens("alice").size() == 3);
  // Past 366 days, or negative: refused (the CLI stops there too, a raw
  // call must not get a token for ever).
  const std::string limit = "token: expires_in_secs must be between 1 and " +
                            std::to_string(k_max_token_secs) + " (366 days), or 0";
  const auto key = w.caller("alice").key_id;
  for (const std::int64_t secs : {k_max_token_secs + 1, std::int64_t{1} << 62, std::int64_t{-1}}) {
    CHECK(failure_of([&] { w.identity.create_token("alice", key, secs); }) ==
          std::pair{Fault::InvalidArgument, limit});
  }
  // A caller whose token names no key (older than akid) makes no token: it
  // would outlive the key.
  CHECK(failure_of([&] { w.identity.create_token("alice", "", 60); }).first ==
        Fault::FailedPrecondition);
  CHECK(w.identity.list_tokens("alice").size() == 3);
}

TEST_CASE("identity: whoami shows the caller's own keys and default network") {
  IdentityWorld w;
  const auto keys = ssh_keys_file(w.dir.path(), "alice");
  std::filesystem::create_directories(keys.parent_path());
  std::ofstream(keys) << "# alice's keys\n" << key_line('a') << "\nnot a key\n";
  const auto alice = w.identity.whoami("alice");
  CHECK(alice.user_id == "alice");
  CHECK(alice.display_name == "alice");
  REQUIRE(alice.fingerprints.size() == 1);
  CHECK(alice.fingerprints[0] == *ssh_key_fingerprint(key_line('a')));
  CHECK(alice.fingerprints[0].starts_with("SHA256:"));
  CHECK(alice.default_network_id == w.networks.default_id("alice"));
  const auto bob = w.identity.whoami("bob");
  CHECK(bob.fingerprints.empty());
  CHECK(bob.default_network_id != alice.default_network_id);
}

TEST_CASE("identity: the server's config names its image, zone and isolation") {
  IdentityWorld w;
  const auto server = w.identity.server();
  CHECK(server.default_image == "host");
  CHECK(server.zone == "localhost");
  CHECK(server.isolation.empty());  // the fake runtime isolates nothing
}

TEST_CASE("identity: a user's revocations stop at the record limit") {
  IdentityWorld w;
  w.store.set_record_limit(3);
  for (int i = 0; i < 3; ++i) {
    const auto self = w.caller("alice");  // a fresh exchange token each time
    w.identity.revoke_token(self, self.jti);
  }
  const auto token = *w.auth.exchange("bxd_alice");
  const auto fourth = w.check(token.token);
  CHECK(failure_of([&] { w.identity.revoke_token(fourth, fourth.jti); }).first ==
        Fault::ResourceExhausted);
  CHECK(w.check(token.token).failure == AuthFailure::None);  // not revoked
  const auto bobs = w.caller("bob");  // another user's revocations are his own
  w.identity.revoke_token(bobs, bobs.jti);
}
