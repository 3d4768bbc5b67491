#include "boxd/box/list.hpp"

#include "boxd/command.hpp"
#include "common/sizes.hpp"

namespace boxd::cli {

CLI::App* define_box_list(CLI::App& parent, ListOptions& options) {
  CLI::App* cmd = parent.add_subcommand("list", "List your boxes");
  cmd->alias("ls");
  (void)options;
  cmd->footer(
      "Examples:\n"
      "  boxd box list\n"
      "  boxd box list -q | xargs boxd box stop\n"
      "  boxd box list --json | jq -r '.[] | select(.status == \"running\") | .name'");
  return cmd;
}

void add_box_list(CLI::App& parent, Context& ctx) {
  add_leaf<ListOptions>(parent, ctx, define_box_list, run_list);
}

Table box_table(const std::vector<api::v1::GetVmResponse>& boxes, bool human, std::int64_t now) {
  Table table;
  table.columns = {"name", "status", "image", "vcpu", "memory", "created"};
  table.status_column = 1;
  for (const auto& box : boxes) {
    table.rows.push_back({
        box.name(),
        box.status(),
        box.image_ref(),
        box.vcpu() == 0 ? "" : std::to_string(box.vcpu()),
        box.memory_bytes() == 0
            ? ""
            : (human ? format_size(box.memory_bytes()) : std::to_string(box.memory_bytes())),
        format_timestamp(box.created_at(), human, now),
    });
  }
  return table;
}

int run_list(const ListOptions& options, Context& ctx) {
  const std::vector<api::v1::GetVmResponse> boxes = ctx.client().list_vms();
  nlohmann::json json = nlohmann::json::array();
  if (options.json) {
    for (const auto& box : boxes) {
      json.push_back(proto_to_json(box));
    }
  }
  print_list(ctx, box_table(boxes, ctx.stdout_tty, now_unix_seconds()), json);
  return 0;
}

}  // namespace boxd::cli
