// `boxd token ...`: JWTs for scripts and CI, created, listed and revoked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/api/v1/api.pb.h"
#include "boxd/context.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

void add_token(CLI::App& root, Context& ctx);

struct TokenCreateOptions {
  std::uint32_t expires_in_secs = 0;  // 0: the server's default
  bool json = false;
  bool quiet = false;
};
CLI::App* define_token_create(CLI::App& parent, TokenCreateOptions& options);
int run_token_create(const TokenCreateOptions& options, Context& ctx);

struct TokenListOptions {
  bool json = false;
};
CLI::App* define_token_list(CLI::App& parent, TokenListOptions& options);
Table token_table(const std::vector<api::v1::TokenInfo>& tokens, bool human, std::int64_t now);
int run_token_list(const TokenListOptions& options, Context& ctx);

struct TokenRevokeOptions {
  std::vector<std::string> jtis;
  bool quiet = false;
};
CLI::App* define_token_revoke(CLI::App& parent, TokenRevokeOptions& options);
int run_token_revoke(const TokenRevokeOptions& options, Context& ctx);

}  // namespace boxd::cli
