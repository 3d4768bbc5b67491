#include "boxd/proxy/proxy.hpp"

namespace boxd::cli {

CLI::App* define_proxy_list(CLI::App& parent, ProxyListOptions& options) {
  CLI::App* cmd = parent.add_subcommand("list", "List the proxies of one box or of all your boxes");
  cmd->alias("ls");
  cmd->add_option("VM", options.vm, "Box name or id (default: all your boxes)");
  cmd->footer(
      "Examples:\n"
      "  boxd box proxy list\n"
      "  boxd box proxy list web\n"
      "  boxd box proxy list web --json | jq -r '.[] | select(.is_default) | .effective_port'");
  return cmd;
}

int run_proxy_list(const ProxyListOptions& options, Context& ctx) {
  const auto proxies = ctx.client().list_proxies(options.vm);
  nlohmann::json json = nlohmann::json::array();
  if (options.json) {
    for (const auto& p : proxies) {
      json.push_back(proto_to_json(p));
    }
  }
  print_list(ctx, proxy_table(proxies), json);
  return 0;
}

}  // namespace boxd::cli
