#include <algorithm>

#include "boxd/snapshot/snapshot.hpp"
#include "common/error.hpp"

namespace boxd::cli {

CLI::App* define_snapshot_list(CLI::App& parent, SnapshotListOptions& options) {
  CLI::App* cmd = parent.add_subcommand("list", "List your snapshots");
  cmd->alias("ls");
  cmd->add_option("VM", options.vm, "Only the snapshots taken from this box (name)");
  cmd->footer(
      "Examples:\n"
      "  boxd snapshot list\n"
      "  boxd snapshot list web -q\n"
      "  boxd snapshot list --json | jq -r '.[] | \"\\(.name) \\(.version)\"'");
  return cmd;
}

int run_snapshot_list(const SnapshotListOptions& options, Context& ctx) {
  auto snapshots = ctx.client().list_snapshots();
  if (!options.vm.empty()) {
    // source_vm is a project field (P, docs/wire-contract.md section 1): a server that does not
    // set it must not turn the filter into a silently empty list.
    const bool reported = std::any_of(snapshots.begin(), snapshots.end(),
                                      [](const auto& s) { return !s.source_vm().empty(); });
    if (!snapshots.empty() && !reported) {
      throw Error(ErrorClass::InvalidArgument,
                  "this server does not report which box a snapshot was taken from",
                  "run 'boxd snapshot list' without VM");
    }
    std::erase_if(snapshots,
                  [&](const api::v1::SnapshotInfo& s) { return s.source_vm() != options.vm; });
  }
  nlohmann::json json = nlohmann::json::array();
  if (options.json) {
    for (const auto& s : snapshots) {
      json.push_back(proto_to_json(s));
    }
  }
  print_list(ctx, snapshot_table(snapshots, ctx.stdout_tty), json);
  return 0;
}

}  // namespace boxd::cli
