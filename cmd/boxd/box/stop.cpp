#include "boxd/box/stop.hpp"

#include "boxd/command.hpp"

namespace boxd::cli {

CLI::App* define_box_stop(CLI::App& parent, StopOptions& options) {
  return define_bulk_command(parent, "stop", "Stop running boxes (their disks are kept)",
                             "  boxd box stop web\n"
                             "  boxd box stop web-1 web-2 web-3",
                             options.names);
}

void add_box_stop(CLI::App& parent, Context& ctx) {
  add_leaf<StopOptions>(parent, ctx, define_box_stop, run_stop);
}

int run_stop(const StopOptions& options, Context& ctx) {
  return for_each_box(ctx, options.names, [&](const std::string& name) {
    ctx.client().stop_vm(name);
    if (!options.quiet) {
      ctx.err << "Stopped box '" << name << "'\n";
    }
  });
}

}  // namespace boxd::cli
