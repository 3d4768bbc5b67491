#include "boxd/auth/auth.hpp"

#include "boxd/auth/login.hpp"
#include "boxd/auth/logout.hpp"
#include "boxd/auth/status.hpp"

namespace boxd::cli {

void add_auth(CLI::App& root, Context& ctx) {
  CLI::App* auth =
      root.add_subcommand("auth", "Log in and out, and show where credentials come from");
  add_auth_login(*auth, ctx);
  add_auth_logout(*auth, ctx);
  add_auth_status(*auth, ctx);
  auth->footer(
      "Examples:\n"
      "  boxd auth login < key.txt\n"
      "  boxd auth status\n"
      "  boxd --environment local auth logout");
}

}  // namespace boxd::cli
