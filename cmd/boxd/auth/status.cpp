#include "boxd/auth/status.hpp"

#include "boxd/command.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

CLI::App* define_auth_status(CLI::App& parent, StatusOptions& options) {
  (void)options;
  CLI::App* cmd =
      parent.add_subcommand("status", "Show who you are and where the credential came from");
  cmd->footer(
      "Examples:\n"
      "  boxd auth status\n"
      "  BOXD_ENVIRONMENT=local boxd auth status --json");
  return cmd;
}

void add_auth_status(CLI::App& parent, Context& ctx) {
  add_leaf<StatusOptions>(parent, ctx, define_auth_status, run_status);
}

int run_status(const StatusOptions& options, Context& ctx) {
  const client::ResolvedConfig& config = ctx.config();
  client::ClientApi& client = ctx.client();
  const auto me = client.whoami();
  const std::string source = client.credential_source();
  if (options.json) {
    ctx.out << dump_json(nlohmann::json{
        {"environment", config.environment},
        {"profile", config.profile},
        {"api_url", config.api_url},
        {"exchange_url", config.exchange_url},
        {"credential_source", source},
        {"user_id", me.user_id()},
        {"display_name", me.display_name()},
    });
    return 0;
  }
  std::vector<std::pair<std::string, std::string>> fields = {{"environment", config.environment}};
  if (!config.profile.empty()) {
    fields.emplace_back("profile", config.profile);
  }
  fields.emplace_back("api_url", config.api_url);
  fields.emplace_back("exchange_url", config.exchange_url);
  fields.emplace_back("user_id", me.user_id());
  if (!me.display_name().empty()) {
    fields.emplace_back("display_name", me.display_name());
  }
  fields.emplace_back("credential", source);
  render_fields(ctx.out, fields);
  return 0;
}

}  // namespace boxd::cli
