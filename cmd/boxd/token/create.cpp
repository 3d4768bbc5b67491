#include "boxd/token/token.hpp"

namespace boxd::cli {

CLI::App* define_token_create(CLI::App& parent, TokenCreateOptions& options) {
  CLI::App* cmd = parent.add_subcommand("create", "Create a token and print it (once) on stdout");
  cmd->add_option("--expires-in", options.expires_in_secs,
                  "Lifetime in seconds (default: the server's)")
      ->type_name("S")
      ->check(CLI::Range(1U, 366U * 24U * 3600U));
  cmd->footer(
      "The token is a secret: it is printed on stdout only, never logged. Store it\n"
      "like a password.\n"
      "\n"
      "Examples:\n"
      "  export BOXD_TOKEN=$(boxd token create --expires-in 3600)\n"
      "  boxd token create --json | jq -r .expires_at");
  return cmd;
}

int run_token_create(const TokenCreateOptions& options, Context& ctx) {
  const auto response = ctx.client().create_token(options.expires_in_secs);
  if (options.json) {
    ctx.out << dump_json(proto_to_json(response));
    return 0;
  }
  ctx.out << response.token() << "\n";
  ctx.out.flush();
  if (!options.quiet) {
    ctx.err << "Created a token, expires " << format_timestamp(response.expires_at(), false, 0)
            << "\n";
  }
  return 0;
}

}  // namespace boxd::cli
