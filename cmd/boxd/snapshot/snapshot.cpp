#include "boxd/snapshot/snapshot.hpp"

#include "boxd/command.hpp"
#include "common/sizes.hpp"

namespace boxd::cli {

Table snapshot_table(const std::vector<api::v1::SnapshotInfo>& snapshots, bool human) {
  Table table;
  table.columns = {"name", "id", "version", "status", "size", "vm", "created"};
  table.status_column = 3;
  const auto now = now_unix_seconds();
  for (const auto& s : snapshots) {
    table.rows.push_back({s.name(), s.snapshot_id(), std::to_string(s.version()), s.status(),
                          human ? format_size(s.size_bytes()) : std::to_string(s.size_bytes()),
                          s.source_vm(), format_timestamp(s.created_at(), human, now)});
  }
  return table;
}

void add_snapshot(CLI::App& root, Context& ctx) {
  CLI::App* group = root.add_subcommand("snapshot", "Save a box's disk and create boxes from it");
  group->require_subcommand(1);
  add_leaf<SnapshotCreateOptions>(*group, ctx, define_snapshot_create, run_snapshot_create);
  add_leaf<SnapshotListOptions>(*group, ctx, define_snapshot_list, run_snapshot_list);
  add_leaf<SnapshotGetOptions>(*group, ctx, define_snapshot_get, run_snapshot_get);
  add_leaf<SnapshotDeleteOptions>(*group, ctx, define_snapshot_delete, run_snapshot_delete);
  group->footer(
      "Examples:\n"
      "  boxd snapshot create web before-upgrade\n"
      "  boxd box create web-copy --from-snapshot before-upgrade\n"
      "  boxd snapshot list\n"
      "  boxd snapshot delete before-upgrade");
}

}  // namespace boxd::cli
