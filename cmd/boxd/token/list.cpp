#include "boxd/token/token.hpp"

namespace boxd::cli {

CLI::App* define_token_list(CLI::App& parent, TokenListOptions& options) {
  (void)options;
  CLI::App* cmd =
      parent.add_subcommand("list", "List your live tokens (ids and times, never the token)");
  cmd->alias("ls");
  cmd->footer(
      "Examples:\n"
      "  boxd token list\n"
      "  boxd token list -q | xargs boxd token revoke");
  return cmd;
}

Table token_table(const std::vector<api::v1::TokenInfo>& tokens, bool human, std::int64_t now) {
  Table table;
  table.columns = {"jti", "created", "expires"};
  for (const auto& t : tokens) {
    table.rows.push_back({t.jti(), format_timestamp(t.created_at(), human, now),
                          format_timestamp(t.expires_at(), false, now)});
  }
  return table;
}

int run_token_list(const TokenListOptions& options, Context& ctx) {
  const auto tokens = ctx.client().list_tokens();
  nlohmann::json json = nlohmann::json::array();
  if (options.json) {
    for (const auto& t : tokens) {
      json.push_back(proto_to_json(t));
    }
  }
  print_list(ctx, token_table(tokens, ctx.stdout_tty, now_unix_seconds()), json);
  return 0;
}

}  // namespace boxd::cli
