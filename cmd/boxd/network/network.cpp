#include "boxd/network/network.hpp"

#include "boxd/command.hpp"

namespace boxd::cli {

void add_network(CLI::App& root, Context& ctx) {
  CLI::App* group = root.add_subcommand("network", "Private networks for boxes");
  group->require_subcommand(1);
  add_leaf<NetworkCreateOptions>(*group, ctx, define_network_create, run_network_create);
  add_leaf<NetworkListOptions>(*group, ctx, define_network_list, run_network_list);
  group->footer(
      "A new network is 'provisioning' for a moment, then 'ready'. With boxd local, networks\n"
      "are bookkeeping only: boxes share the host's network, whatever network they are on.\n"
      "\n"
      "Examples:\n"
      "  boxd network create backend\n"
      "  boxd network list");
}

}  // namespace boxd::cli
