#include "boxd/snapshot/snapshot.hpp"

#include "boxd/box/bulk.hpp"

namespace boxd::cli {

CLI::App* define_snapshot_delete(CLI::App& parent, SnapshotDeleteOptions& options) {
  CLI::App* cmd = parent.add_subcommand("delete", "Delete snapshots (boxes made from them stay)");
  cmd->alias("rm");
  cmd->add_option("SNAPSHOT", options.snapshots, "Snapshot names or ids")->required();
  cmd->footer(
      "Examples:\n"
      "  boxd snapshot delete before-upgrade\n"
      "  boxd snapshot list -q | xargs boxd snapshot delete");
  return cmd;
}

int run_snapshot_delete(const SnapshotDeleteOptions& options, Context& ctx) {
  return for_each_box(ctx, options.snapshots, [&](const std::string& name) {
    ctx.client().delete_snapshot(name);
    if (!options.quiet) {
      ctx.err << "Deleted snapshot '" << name << "'\n";
    }
  });
}

}  // namespace boxd::cli
