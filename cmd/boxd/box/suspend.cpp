#include "boxd/box/suspend.hpp"

#include <fmt/format.h>

#include "boxd/command.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

CLI::App* define_box_suspend(CLI::App& parent, SuspendOptions& options) {
  return define_bulk_command(parent, "suspend", "Freeze every process of running boxes (resume continues them)",
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
    if (options.json) {
      nlohmann::json json = proto_to_json(response);
      json["name"] = name;
      ctx.out << json.dump() << "\n";
      ctx.out.flush();
    } else if (!options.quiet) {
      ctx.err << fmt::format("Suspended box '{}' in {:.1f} ms\n", name, static_cast<double>(response.suspend_us()) / 1000.0);
    }
  });
}

}  // namespace boxd::cli
