#include "boxd/command.hpp"
#include "boxd/disk/disk.hpp"

namespace boxd::cli {

CLI::App* define_disk_detach(CLI::App& parent, DiskDetachOptions& options) {
  CLI::App* cmd = parent.add_subcommand("detach", "Detach a disk from a box");
  cmd->add_option("DISK", options.disk, "Disk name or id")->required();
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->footer(
      "Examples:\n"
      "  boxd disk detach data web\n"
      "  boxd disk detach data web && boxd disk attach data web-2 --mount /data");
  return cmd;
}

void add_disk_detach(CLI::App& parent, Context& ctx) {
  add_leaf<DiskDetachOptions>(parent, ctx, define_disk_detach, run_disk_detach);
}

int run_disk_detach(const DiskDetachOptions& options, Context& ctx) {
  const auto disk = ctx.client().detach_disk(options.disk, options.vm);
  if (options.json) {
    ctx.out << dump_json(proto_to_json(disk));
  } else if (!options.quiet) {
    ctx.err << "Detached disk '" << disk.name() << "' from box '" << options.vm << "'\n";
  }
  return 0;
}

}  // namespace boxd::cli
