#include "boxd/auth/logout.hpp"

#include "boxd/auth/credentials_store.hpp"
#include "boxd/auth/login.hpp"
#include "boxd/command.hpp"

namespace boxd::cli {

CLI::App* define_auth_logout(CLI::App& parent, LogoutOptions& options) {
  (void)options;
  CLI::App* cmd = parent.add_subcommand(
      "logout", "Remove the stored API key of the active profile or environment");
  cmd->footer(
      "Examples:\n"
      "  boxd auth logout\n"
      "  boxd --environment local auth logout");
  return cmd;
}

void add_auth_logout(CLI::App& parent, Context& ctx) {
  add_leaf<LogoutOptions>(parent, ctx, define_auth_logout, run_logout);
}

int run_logout(const LogoutOptions& options, Context& ctx) {
  (void)options;
  const std::string entry = credentials_entry(ctx.config());
  if (remove_credentials(credentials_path(), entry)) {
    ctx.err << "Logged out of '" << entry << "'\n";
  } else {
    ctx.err << "Not logged in to '" << entry << "': nothing to remove\n";
  }
  return 0;
}

}  // namespace boxd::cli
