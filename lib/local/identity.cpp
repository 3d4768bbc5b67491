#include "local/identity.hpp"

#include <algorithm>
#include <utility>

#include "common/files.hpp"
#include "common/log.hpp"
#include "local/fault.hpp"
#include "local/rpc_helpers.hpp"
#include "local/ssh_keys.hpp"

namespace boxd::local {

Identity::Identity(std::filesystem::path state_dir, Store& store, Auth& auth, Networks& networks,
                   Runtime& runtime)
    : m_state_dir(std::move(state_dir)),
      m_store(store),
      m_auth(auth),
      m_networks(networks),
      m_runtime(runtime) {}

WhoamiInfo Identity::whoami(const std::string& user) {
  WhoamiInfo info;
  info.user_id = user;
  info.display_name = user;
  const auto keys = ssh_keys_file(m_state_dir, user);
  if (!keys.empty()) {
    if (const auto text = read_file(keys)) {
      info.fingerprints = ssh_key_fingerprints(*text);
    }
  }
  info.default_network_id = m_networks.default_id(user);
  return info;
}

ServerInfo Identity::server() const {
  return ServerInfo{"host", "localhost", m_runtime.isolation()};
}

IssuedToken Identity::create_token(const std::string& user, const std::string& key_id,
                                   std::int64_t expires_in_secs) {
  if (key_id.empty()) {
    // A token from before tokens named their key would pass on a token
    // that outlives the key (auth.hpp).
    fail(Fault::FailedPrecondition,
         "token: the token this call came with names no API key (it is older than this "
         "server); log in with your API key again, then create tokens");
  }
  if (expires_in_secs < 0 || expires_in_secs > k_max_token_secs) {
    fail(Fault::InvalidArgument, "token: expires_in_secs must be between 1 and " +
                                     std::to_string(k_max_token_secs) + " (366 days), or 0");
  }
  auto token = m_auth.issue(user, key_id, expires_in_secs, true);
  logging::info("token created", {{"user", user}, {"jti", token.jti}});
  return token;
}

std::vector<TokenRecord> Identity::list_tokens(const std::string& user) const {
  const auto now = rpc::now_secs();
  std::vector<TokenRecord> tokens;
  m_store.read([&](const StoreData& data) {
    for (const auto& t : data.tokens) {
      if (t.owner == user && t.expires_at > now && data.revoked.count(t.jti) == 0) {
        tokens.push_back(t);
      }
    }
    return 0;
  });
  return tokens;
}

void Identity::revoke_token(const AuthResult& caller, const std::string& jti) {
  m_store.update([&](StoreData& data) {
    std::int64_t expires_at = rpc::now_secs() + m_auth.token_ttl();
    bool found = jti == caller.jti;  // a caller may always revoke its own token
    for (const auto& t : data.tokens) {
      if (t.jti == jti && t.owner == caller.user_id) {
        found = true;
        expires_at = t.expires_at;
      }
    }
    if (!found || jti.empty()) {
      fail(Fault::NotFound, "token '" + jti + "' not found");
    }
    const auto now = rpc::now_secs();
    std::erase_if(data.revoked, [now](const auto& entry) { return entry.second < now; });
    std::erase_if(data.revoked_by,
                  [&](const auto& entry) { return data.revoked.count(entry.first) == 0; });
    // Revocations stay until their token would have expired: a user
    // revoking token after token (each exchange makes one) would grow the
    // state without end.
    if (data.revoked.count(jti) == 0) {
      rpc::check_record_room(
          data.revoked_by, [&](const auto& entry) { return entry.second == caller.user_id; },
          m_store.record_limit(), "revoked tokens");
    }
    std::erase_if(data.tokens, [&](const TokenRecord& t) { return t.jti == jti; });
    data.revoked[jti] = expires_at;
    data.revoked_by[jti] = caller.user_id;
  });
  logging::info("token revoked", {{"user", caller.user_id}, {"jti", jti}});
}

}  // namespace boxd::local
