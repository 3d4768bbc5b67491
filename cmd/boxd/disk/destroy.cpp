#include <iostream>

#include "boxd/box/bulk.hpp"
#include "boxd/command.hpp"
#include "boxd/disk/disk.hpp"
#include "common/error.hpp"

namespace boxd::cli {

CLI::App* define_disk_destroy(CLI::App& parent, DiskDestroyOptions& options) {
  CLI::App* cmd = parent.add_subcommand("destroy", "Destroy disks and their data");
  cmd->alias("rm");
  cmd->add_option("NAME", options.names, "Disk names or ids")->required();
  cmd->add_flag("-y,--yes", options.yes,
                "Do not ask for confirmation (required when stdin is not a terminal)");
  cmd->footer(
      "An attached disk cannot be destroyed: detach it first.\n"
      "\n"
      "Examples:\n"
      "  boxd disk destroy data\n"
      "  boxd disk destroy --yes data cache");
  return cmd;
}

void add_disk_destroy(CLI::App& parent, Context& ctx) {
  add_leaf<DiskDestroyOptions>(parent, ctx, define_disk_destroy, run_disk_destroy);
}

int run_disk_destroy(const DiskDestroyOptions& options, Context& ctx) {
  if (!options.yes && !ctx.stdin_tty) {
    throw Error(ErrorClass::Usage, "refusing to destroy without --yes (stdin is not a terminal)");
  }
  return for_each_box(ctx, options.names, [&](const std::string& name) {
    if (!options.yes) {
      ctx.err << "Destroy disk '" << name << "' and its data? [y/N] " << std::flush;
      std::string answer;
      if (!std::getline(ctx.in, answer) || (answer != "y" && answer != "Y" && answer != "yes")) {
        ctx.err << "Skipped disk '" << name << "'\n";
        return;
      }
    }
    ctx.client().destroy_disk(name);
    if (!options.quiet) {
      ctx.err << "Destroyed disk '" << name << "'\n";
    }
  });
}

}  // namespace boxd::cli
