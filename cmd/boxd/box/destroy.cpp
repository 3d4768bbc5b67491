#include "boxd/box/destroy.hpp"

#include <iostream>

#include "boxd/box/bulk.hpp"
#include "boxd/command.hpp"
#include "common/error.hpp"

namespace boxd::cli {

CLI::App* define_box_destroy(CLI::App& parent, DestroyOptions& options) {
  CLI::App* cmd = define_bulk_command(parent, "destroy", "Destroy boxes and their disks",
                                      "  boxd box destroy web\n"
                                      "  boxd box destroy -y web-1 web-2\n"
                                      "  boxd box list -q | xargs boxd box destroy --yes",
                                      options.names);
  cmd->alias("rm");
  cmd->add_flag("-y,--yes,--confirm", options.yes,
                "Do not ask for confirmation (required when stdin is not a terminal)");
  return cmd;
}

void add_box_destroy(CLI::App& parent, Context& ctx) {
  add_leaf<DestroyOptions>(parent, ctx, define_box_destroy, run_destroy);
}

namespace {
bool confirm(Context& ctx, const std::string& name) {
  ctx.err << "Destroy box '" << name << "'? [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(ctx.in, answer)) {
    ctx.err << "\n";
    return false;
  }
  return answer == "y" || answer == "Y" || answer == "yes" || answer == "YES" || answer == "Yes";
}
}  // namespace

int run_destroy(const DestroyOptions& options, Context& ctx) {
  if (!options.yes && !ctx.stdin_tty) {
    throw Error(ErrorClass::Usage, "refusing to destroy without --yes (stdin is not a terminal)");
  }
  return for_each_box(ctx, options.names, [&](const std::string& name) {
    if (!options.yes && !confirm(ctx, name)) {
      ctx.err << "Skipped box '" << name << "'\n";
      return;
    }
    ctx.client().destroy_vm(name);
    if (!options.quiet) {
      ctx.err << "Destroyed box '" << name << "'\n";
    }
  });
}

}  // namespace boxd::cli
