#include "boxd/box/reboot.hpp"

#include "boxd/command.hpp"

namespace boxd::cli {

CLI::App* define_box_reboot(CLI::App& parent, RebootOptions& options) {
  return define_bulk_command(parent, "reboot", "Reboot boxes",
                             "  boxd box reboot web\n"
                             "  boxd box reboot web-1 web-2 web-3",
                             options.names);
}

void add_box_reboot(CLI::App& parent, Context& ctx) {
  add_leaf<RebootOptions>(parent, ctx, define_box_reboot, run_reboot);
}

int run_reboot(const RebootOptions& options, Context& ctx) {
  return for_each_box(ctx, options.names, [&](const std::string& name) {
    ctx.client().reboot_vm(name);
    if (!options.quiet) {
      ctx.err << "Rebooted box '" << name << "'\n";
    }
  });
}

}  // namespace boxd::cli
