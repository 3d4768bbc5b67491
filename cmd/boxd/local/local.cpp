#include "boxd/local/local.hpp"

namespace boxd::cli {

void add_local(CLI::App& root, Context& ctx) {
  CLI::App* local = root.add_subcommand(
      "local", "Run a boxd server on this machine (real boxes, same API, offline)");
  local->require_subcommand(1);
  local->footer(
      "Examples:\n"
      "  boxd local start                 # background server, CLI logged in\n"
      "  boxd --environment local box create web\n"
      "  boxd local status\n"
      "  boxd local logs -f --level info\n"
      "  boxd local stop\n"
      "  boxd local serve --port 0        # foreground, free ports (tests)");
  add_local_serve(*local, ctx);
  add_local_start(*local, ctx);
  add_local_stop(*local, ctx);
  add_local_status(*local, ctx);
  add_local_logs(*local, ctx);
}

}  // namespace boxd::cli
