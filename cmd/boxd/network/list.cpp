#include "boxd/network/network.hpp"

namespace boxd::cli {

CLI::App* define_network_list(CLI::App& parent, NetworkListOptions& options) {
  (void)options;
  CLI::App* cmd = parent.add_subcommand("list", "List your networks (id, name, subnet, status)");
  cmd->alias("ls");
  cmd->footer(
      "Examples:\n"
      "  boxd network list\n"
      "  boxd network list --json | jq -r '.[] | select(.status == \"ready\") | .network_id'");
  return cmd;
}

Table network_table(const std::vector<api::v1::NetworkInfo>& networks) {
  Table table;
  table.columns = {"id", "name", "subnet", "status"};
  table.status_column = 3;
  for (const auto& n : networks) {
    table.rows.push_back({n.network_id(), n.name(), n.subnet(), n.status()});
  }
  return table;
}

int run_network_list(const NetworkListOptions& options, Context& ctx) {
  const auto networks = ctx.client().list_networks();
  nlohmann::json json = nlohmann::json::array();
  if (options.json) {
    for (const auto& n : networks) {
      json.push_back(proto_to_json(n));
    }
  }
  print_list(ctx, network_table(networks), json);
  return 0;
}

}  // namespace boxd::cli
