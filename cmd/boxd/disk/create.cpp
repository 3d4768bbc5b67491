#include <nlohmann/json.hpp>

#include "boxd/command.hpp"
#include "boxd/disk/disk.hpp"
#include "common/error.hpp"
#include "common/sizes.hpp"

namespace boxd::cli {

CLI::App* define_disk_create(CLI::App& parent, DiskCreateOptions& options) {
  CLI::App* cmd = parent.add_subcommand("create", "Create a disk");
  cmd->add_option("NAME", options.name, "Disk name (lowercase letters, digits, '-')")->required();
  cmd->add_option("--size", options.size, "Size: 512M, 10G, 1.5T, bytes (default 10G)");
  cmd->footer(
      "boxd local enforces the size (an ext4 image on a loop device: writing more fails\n"
      "with ENOSPC in the box) where loop devices work, and says at startup when not.\n"
      "\n"
      "Examples:\n"
      "  boxd disk create data --size 10G\n"
      "  boxd disk create cache --size 512M --json | jq -r .disk_id");
  return cmd;
}

void add_disk_create(CLI::App& parent, Context& ctx) {
  add_leaf<DiskCreateOptions>(parent, ctx, define_disk_create, run_disk_create);
}

int run_disk_create(const DiskCreateOptions& options, Context& ctx) {
  const auto size = parse_size(options.size);
  if (!size || *size == 0) {
    throw Error(ErrorClass::Usage, "invalid size '" + options.size + "'",
                "use e.g. 512M, 10G, 1.5T");
  }
  const auto disk = ctx.client().create_disk(options.name, *size);
  if (options.json) {
    ctx.out << dump_json(proto_to_json(disk));
  } else {
    ctx.out << disk.name() << "\n";
  }
  return 0;
}

}  // namespace boxd::cli
