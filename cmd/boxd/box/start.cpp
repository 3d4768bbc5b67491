#include "boxd/box/start.hpp"

#include "boxd/command.hpp"

namespace boxd::cli {

CLI::App* define_box_start(CLI::App& parent, StartOptions& options) {
  return define_bulk_command(parent, "start", "Start stopped boxes",
                             "  boxd box start web\n"
                             "  boxd box start web-1 web-2 web-3",
                             options.names);
}

void add_box_start(CLI::App& parent, Context& ctx) {
  add_leaf<StartOptions>(parent, ctx, define_box_start, run_start);
}

int run_start(const StartOptions& options, Context& ctx) {
  return for_each_box(ctx, options.names, [&](const std::string& name) {
    ctx.client().start_vm(name);
    if (!options.quiet) {
      ctx.err << "Started box '" << name << "'\n";
    }
  });
}

}  // namespace boxd::cli
