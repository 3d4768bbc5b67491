#include "boxd/box/set_timeout.hpp"
#include "boxd/command.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

CLI::App* define_box_set_auto_hibernate(CLI::App& parent, SetTimeoutOptions& options) {
  CLI::App* cmd = parent.add_subcommand(
      "set-auto-hibernate", "Hibernate a box after S seconds without inbound traffic (0 = never)");
  cmd->add_option("NAME", options.name, "Box name or id")->required();
  cmd->add_option("SECONDS", options.secs, "Idle seconds before hibernating (0 = never)")
      ->required();
  cmd->footer(
      "A hibernated box keeps its disk; 'boxd box wake' brings it back.\n"
      "\n"
      "Examples:\n"
      "  boxd box set-auto-hibernate web 3600\n"
      "  boxd box set-auto-hibernate web 0");
  return cmd;
}

void add_box_set_auto_hibernate(CLI::App& parent, Context& ctx) {
  add_leaf<SetTimeoutOptions>(parent, ctx, define_box_set_auto_hibernate, run_set_auto_hibernate);
}

int run_set_auto_hibernate(const SetTimeoutOptions& options, Context& ctx) {
  ctx.client().set_auto_hibernate_timeout(options.name, options.secs);
  if (options.json) {
    ctx.out << dump_json(proto_to_json(api::v1::SetAutoHibernateTimeoutResponse()));
    return 0;
  }
  if (!options.quiet) {
    ctx.err << "Box '" << options.name << "' auto-hibernates "
            << (options.secs == 0 ? std::string("never")
                                  : "after " + std::to_string(options.secs) + " s idle")
            << "\n";
  }
  return 0;
}

}  // namespace boxd::cli
