// The domain layer of boxd local for identity and API tokens: who the
// caller is (Whoami), what this server is (GetConfig) and the caller's
// long-lived tokens (CreateToken, ListTokens, RevokeToken), over Auth
// (auth.hpp: signing and checking) and the store (token records and the
// revocation list). No gRPC type here (the adapter is service.cpp).
//
// Tokens: create() signs one with Auth and records it (jti, owner, created,
// expires), so list() shows it until it expires or is revoked; exchange
// tokens are never recorded. revoke() puts the jti on the revocation list
// (kept until the token would have expired; expired entries are dropped at
// every revoke) and forgets the record, so Auth::check refuses the token
// from then on ("token has been revoked").
//
// Faults: revoking a jti that is empty, unknown or another user's is
// NOT_FOUND ("token 'JTI' not found"); a caller may always revoke the token
// it is calling with, recorded or not.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "local/auth.hpp"
#include "local/networks.hpp"
#include "local/runtime.hpp"
#include "local/store.hpp"

namespace boxd::local {

// The longest lifetime CreateToken gives (366 days; the CLI's --expires-in
// stops there too).
constexpr std::int64_t k_max_token_secs = 366LL * 24 * 3600;

// The caller as Whoami shows it.
struct WhoamiInfo {
  std::string user_id;
  std::string display_name;
  std::vector<std::string> fingerprints;  // of <state>/ssh_keys/<user> (ssh_keys.hpp)
  std::string default_network_id;
};

// This server as GetConfig shows it.
struct ServerInfo {
  std::string default_image;
  std::string zone;
  std::vector<IsolationLayer> isolation;  // Runtime::isolation()
};

class Identity {
 public:
  Identity(std::filesystem::path state_dir, Store& store, Auth& auth, Networks& networks,
           Runtime& runtime);

  WhoamiInfo whoami(const std::string& user);
  ServerInfo server() const;

  // A recorded token for `user`; expires_in_secs 0 = the server's default.
  // A token for `user` from the caller's API key (`key_id`: AuthResult's);
  // expires_in_secs 0 = the server's default, at most k_max_token_secs.
  IssuedToken create_token(const std::string& user, const std::string& key_id,
                           std::int64_t expires_in_secs);
  // The caller's recorded tokens that are neither expired nor revoked.
  std::vector<TokenRecord> list_tokens(const std::string& user) const;
  // Revokes the token `jti` of the caller (whose own token is `caller`).
  void revoke_token(const AuthResult& caller, const std::string& jti);

 private:
  std::filesystem::path m_state_dir;
  Store& m_store;
  Auth& m_auth;
  Networks& m_networks;
  Runtime& m_runtime;
};

}  // namespace boxd::local
