#include "boxd/box/set_timeout.hpp"
#include "boxd/command.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

CLI::App* define_box_set_auto_suspend(CLI::App& parent, SetTimeoutOptions& options) {
  CLI::App* cmd = parent.add_subcommand(
      "set-auto-suspend", "Suspend a box after S seconds without inbound traffic (0 = never)");
  cmd->add_option("NAME", options.name, "Box name or id")->required();
  cmd->add_option("SECONDS", options.secs, "Idle seconds before suspending (0 = never)")
      ->required();
  cmd->footer(
      "Traffic (exec, file copies, HTTP through the box's URL) restarts the clock; HTTP\n"
      "to a box suspended this way resumes it.\n"
      "\n"
      "Examples:\n"
      "  boxd box set-auto-suspend web 300\n"
      "  boxd box set-auto-suspend web 0");
  return cmd;
}

void add_box_set_auto_suspend(CLI::App& parent, Context& ctx) {
  add_leaf<SetTimeoutOptions>(parent, ctx, define_box_set_auto_suspend, run_set_auto_suspend);
}

int run_set_auto_suspend(const SetTimeoutOptions& options, Context& ctx) {
  ctx.client().set_auto_suspend_timeout(options.name, options.secs);
  if (options.json) {
    ctx.out << dump_json(proto_to_json(api::v1::SetAutoSuspendTimeoutResponse()));
    return 0;
  }
  if (!options.quiet) {
    ctx.err << "Box '" << options.name << "' auto-suspends "
            << (options.secs == 0 ? std::string("never")
                                  : "after " + std::to_string(options.secs) + " s idle")
            << "\n";
  }
  return 0;
}

}  // namespace boxd::cli
