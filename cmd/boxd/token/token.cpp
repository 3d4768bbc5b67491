#include "boxd/token/token.hpp"

#include "boxd/command.hpp"

namespace boxd::cli {

void add_token(CLI::App& root, Context& ctx) {
  CLI::App* group = root.add_subcommand("token", "Create, list and revoke API tokens (JWTs)");
  group->require_subcommand(1);
  add_leaf<TokenCreateOptions>(*group, ctx, define_token_create, run_token_create);
  add_leaf<TokenListOptions>(*group, ctx, define_token_list, run_token_list);
  add_leaf<TokenRevokeOptions>(*group, ctx, define_token_revoke, run_token_revoke);
  group->footer(
      "A token works as --token or BOXD_TOKEN until it expires or is revoked. The raw\n"
      "token is printed once, by 'create'; 'list' shows ids (jti) and times only.\n"
      "\n"
      "Examples:\n"
      "  export BOXD_TOKEN=$(boxd token create --expires-in 3600)\n"
      "  boxd token list\n"
      "  boxd token revoke JTI");
}

}  // namespace boxd::cli
