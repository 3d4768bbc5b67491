#include "boxd/box/suspend.hpp"

#include "boxd/command.hpp"

namespace boxd::cli {

CLI::App* define_box_suspend(CLI::App& parent, SuspendOptions& options) {
  return define_bulk_command(parent, "suspend",
                             "Freeze every process of running boxes (resume continues them)",
                             "  boxd box suspend web\n"
                             "  boxd box suspend web --json | jq .suspend_us",
                             options.names);
}

void add_box_suspend(CLI::App& parent, Context& ctx) {
  add_leaf<SuspendOptions>(parent, ctx, define_box_suspend, run_suspend);
}

int run_suspend(const SuspendOptions& options, Context& ctx) {
  return for_each_box(ctx, options.names, [&](const std::string& name) {
    const auto response = ctx.client().suspend_vm(name);
    report_timed(ctx, options, name, response, "Suspended", response.suspend_us());
  });
}

}  // namespace boxd::cli
