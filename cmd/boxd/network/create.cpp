#include "boxd/network/network.hpp"

#include "boxd/validators.hpp"

namespace boxd::cli {

CLI::App* define_network_create(CLI::App& parent, NetworkCreateOptions& options) {
  CLI::App* cmd = parent.add_subcommand("create", "Create a network and print its id");
  cmd->add_option("NAME", options.name, "Network name (a DNS label; default: its id)")
      ->check(box_name_validator());
  cmd->footer(
      "Examples:\n"
      "  boxd network create backend\n"
      "  net=$(boxd network create)");
  return cmd;
}

int run_network_create(const NetworkCreateOptions& options, Context& ctx) {
  const std::string id = ctx.client().create_network(options.name);
  if (options.json) {
    api::v1::CreateNetworkResponse response;
    response.set_network_id(id);
    ctx.out << dump_json(proto_to_json(response));
    return 0;
  }
  ctx.out << id << "\n";
  if (!options.quiet) {
    ctx.err << "Created network "
            << (options.name.empty() ? id : "'" + options.name + "' (" + id + ")") << "\n";
  }
  return 0;
}

}  // namespace boxd::cli
