#include <map>

#include <nlohmann/json.hpp>

#include "boxd/command.hpp"
#include "boxd/disk/disk.hpp"
#include "common/sizes.hpp"

namespace boxd::cli {

CLI::App* define_disk_list(CLI::App& parent, DiskListOptions& options) {
  CLI::App* cmd = parent.add_subcommand("list", "List your disks");
  cmd->alias("ls");
  (void)options;
  cmd->footer(
      "Examples:\n"
      "  boxd disk list\n"
      "  boxd disk list -q\n"
      "  boxd disk list --json | jq -r '.[] | select(.status == \"ready\") | .name'");
  return cmd;
}

void add_disk_list(CLI::App& parent, Context& ctx) {
  add_leaf<DiskListOptions>(parent, ctx, define_disk_list, run_disk_list);
}

Table disk_table(const std::vector<api::v1::DiskInfo>& disks, bool human,
                 const std::vector<api::v1::GetVmResponse>& boxes) {
  std::map<std::string, std::string> names;
  for (const auto& b : boxes) {
    names[b.vm_id()] = b.name();
  }
  Table table;
  table.columns = {"name", "status", "size", "vm", "mount", "mode"};
  for (const auto& d : disks) {
    std::string vm;
    std::string mount;
    std::string mode;
    if (d.attachments_size() > 0) {
      const auto& a = d.attachments(0);
      auto it = names.find(a.vm_id());
      vm = it != names.end() ? it->second : a.vm_id();
      mount = a.mount_path();
      mode = a.mount_mode();
    }
    table.rows.push_back({d.name(), d.status(),
                          human ? format_size(d.size_bytes()) : std::to_string(d.size_bytes()), vm,
                          mount, mode});
  }
  return table;
}

int run_disk_list(const DiskListOptions& options, Context& ctx) {
  const auto disks = ctx.client().list_disks();
  nlohmann::json json = nlohmann::json::array();
  std::vector<api::v1::GetVmResponse> boxes;
  if (options.json) {
    for (const auto& d : disks) {
      json.push_back(proto_to_json(d));
    }
  } else {
    bool attached = false;
    for (const auto& d : disks) {
      attached = attached || d.attachments_size() > 0;
    }
    if (attached) {
      boxes = ctx.client().list_vms();
    }
  }
  print_list(ctx, disk_table(disks, ctx.stdout_tty, boxes), json);
  return 0;
}

}  // namespace boxd::cli
