#include "boxd/box/wake.hpp"

#include "boxd/api/v1/api.pb.h"
#include "boxd/command.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

CLI::App* define_box_wake(CLI::App& parent, WakeOptions& options) {
  return define_bulk_command(parent, "wake",
                             "Bring hibernated (or suspended, stopped) boxes back to running",
                             "  boxd box wake web\n"
                             "  boxd box wake web api",
                             options.names);
}

void add_box_wake(CLI::App& parent, Context& ctx) {
  add_leaf<WakeOptions>(parent, ctx, define_box_wake, run_wake);
}

int run_wake(const WakeOptions& options, Context& ctx) {
  return for_each_box(ctx, options.names, [&](const std::string& name) {
    ctx.client().wake_vm(name);
    if (options.json) {
      nlohmann::json json = proto_to_json(api::v1::WakeVmResponse());
      json["name"] = name;
      ctx.out << json.dump() << "\n";
      ctx.out.flush();
    } else if (!options.quiet) {
      ctx.err << "Woke box '" << name << "'\n";
    }
  });
}

}  // namespace boxd::cli
