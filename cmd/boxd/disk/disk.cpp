#include "boxd/disk/disk.hpp"

namespace boxd::cli {

void add_disk(CLI::App& root, Context& ctx) {
  CLI::App* disk = root.add_subcommand("disk", "Persistent disks that outlive boxes");
  add_disk_create(*disk, ctx);
  add_disk_list(*disk, ctx);
  add_disk_attach(*disk, ctx);
  add_disk_detach(*disk, ctx);
  add_disk_destroy(*disk, ctx);
  disk->footer(
      "Examples:\n"
      "  boxd disk create data --size 10G\n"
      "  boxd disk attach data web --mount /data\n"
      "  boxd disk list\n"
      "  boxd disk detach data web && boxd disk destroy --yes data");
}

}  // namespace boxd::cli
