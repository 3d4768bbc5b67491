#include "boxd/snapshot/snapshot.hpp"

#include "common/sizes.hpp"

namespace boxd::cli {

CLI::App* define_snapshot_get(CLI::App& parent, SnapshotGetOptions& options) {
  CLI::App* cmd = parent.add_subcommand("get", "Show one snapshot");
  cmd->add_option("SNAPSHOT", options.snapshot, "Snapshot name or id")->required();
  cmd->footer(
      "Examples:\n"
      "  boxd snapshot get before-upgrade\n"
      "  boxd snapshot get before-upgrade --json | jq .size_bytes");
  return cmd;
}

int run_snapshot_get(const SnapshotGetOptions& options, Context& ctx) {
  const auto snapshot = ctx.client().get_snapshot(options.snapshot);
  if (options.json) {
    ctx.out << dump_json(proto_to_json(snapshot));
    return 0;
  }
  render_fields(ctx.out, {
                             {"name", snapshot.name()},
                             {"id", snapshot.snapshot_id()},
                             {"version", std::to_string(snapshot.version())},
                             {"status", snapshot.status()},
                             {"size", format_size(snapshot.size_bytes())},
                             {"vm", snapshot.source_vm()},
                             {"vcpu", std::to_string(snapshot.vcpu())},
                             {"memory", format_size(snapshot.memory_bytes())},
                             {"used", std::to_string(snapshot.use_count()) + " times"},
                             {"created", format_timestamp(snapshot.created_at(), false, 0)},
                             {"updated", format_timestamp(snapshot.updated_at(), false, 0)},
                         });
  return 0;
}

}  // namespace boxd::cli
