#include "boxd/token/token.hpp"

#include "boxd/box/bulk.hpp"

namespace boxd::cli {

CLI::App* define_token_revoke(CLI::App& parent, TokenRevokeOptions& options) {
  CLI::App* cmd = parent.add_subcommand("revoke", "Revoke tokens: refused from their next call on");
  cmd->add_option("JTI", options.jtis, "Token ids (from 'boxd token list')")->required();
  cmd->footer(
      "Examples:\n"
      "  boxd token revoke 3f2a9c...\n"
      "  boxd token list -q | xargs boxd token revoke");
  return cmd;
}

int run_token_revoke(const TokenRevokeOptions& options, Context& ctx) {
  return for_each_box(ctx, options.jtis, [&](const std::string& jti) {
    ctx.client().revoke_token(jti);
    if (!options.quiet) {
      ctx.err << "Revoked token " << jti << "\n";
    }
  });
}

}  // namespace boxd::cli
