#include "boxd/snapshot/snapshot.hpp"

#include "boxd/validators.hpp"

namespace boxd::cli {

CLI::App* define_snapshot_create(CLI::App& parent, SnapshotCreateOptions& options) {
  CLI::App* cmd = parent.add_subcommand(
      "create", "Save a copy of a box's disk (saving a name again bumps its version)");
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->add_option("NAME", options.name, "Snapshot name (a DNS label; default: the box's name)")
      ->check(box_name_validator());
  cmd->footer(
      "A running box is frozen while its disk is copied, so the copy is consistent.\n"
      "\n"
      "Examples:\n"
      "  boxd snapshot create web before-upgrade\n"
      "  boxd snapshot create web --json | jq -r .snapshot_id");
  return cmd;
}

int run_snapshot_create(const SnapshotCreateOptions& options, Context& ctx) {
  const auto response = ctx.client().create_snapshot(options.vm, options.name);
  if (options.json) {
    ctx.out << dump_json(proto_to_json(response));
    return 0;
  }
  ctx.out << response.name() << "\n";
  if (!options.quiet) {
    ctx.err << "Saved snapshot '" << response.name() << "' version " << response.version() << " ("
            << response.snapshot_id() << ", " << response.status() << ")\n";
  }
  return 0;
}

}  // namespace boxd::cli
