#include "boxd/command.hpp"
#include "boxd/disk/disk.hpp"

namespace boxd::cli {

CLI::App* define_disk_attach(CLI::App& parent, DiskAttachOptions& options) {
  CLI::App* cmd = parent.add_subcommand("attach", "Attach a disk to a box at a mount path");
  cmd->add_option("DISK", options.disk, "Disk name or id")->required();
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->add_option("--mount", options.mount_path,
                  "Where the disk appears in the box (absolute, or relative to /home/boxd)")
      ->required();
  cmd->add_flag("--read-only", options.read_only, "Mount it read-only");
  cmd->footer(
      "A disk is attached to one box at a time. A stopped box gets it at its next boot.\n"
      "\n"
      "Examples:\n"
      "  boxd disk attach data web --mount /data\n"
      "  boxd disk attach models worker --mount /models --read-only");
  return cmd;
}

void add_disk_attach(CLI::App& parent, Context& ctx) {
  add_leaf<DiskAttachOptions>(parent, ctx, define_disk_attach, run_disk_attach);
}

int run_disk_attach(const DiskAttachOptions& options, Context& ctx) {
  api::v1::AttachDiskRequest request;
  request.set_disk_id(options.disk);
  request.set_vm(options.vm);
  request.set_mount_path(options.mount_path);
  request.set_read_only(options.read_only);
  const auto disk = ctx.client().attach_disk(request);
  if (options.json) {
    ctx.out << dump_json(proto_to_json(disk));
  } else if (!options.quiet) {
    const std::string where =
        disk.attachments_size() > 0 ? disk.attachments(0).mount_path() : options.mount_path;
    ctx.err << "Attached disk '" << disk.name() << "' to box '" << options.vm << "' at " << where
            << (options.read_only ? " (read-only)" : "") << "\n";
  }
  return 0;
}

}  // namespace boxd::cli
