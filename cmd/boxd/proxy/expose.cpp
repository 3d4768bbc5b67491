#include "boxd/proxy/proxy.hpp"

namespace boxd::cli {

CLI::App* define_proxy_expose(CLI::App& parent, ProxyExposeOptions& options) {
  CLI::App* cmd =
      parent.add_subcommand("expose", "Make one of a box's ports reachable from outside");
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->add_option("PORT", options.port, "Port inside the box")
      ->required()
      ->check(CLI::Range(1U, 65535U));
  cmd->add_option("--protocol", options.protocol, "tcp or udp (default: tcp)")
      ->check(CLI::IsMember({"tcp", "udp"}));
  cmd->footer(
      "Prints the address to reach it at (DNS name:public port). With boxd local the port\n"
      "is served through the local HTTP proxy at http://port-PORT.<box>.<user>.localhost:9480\n"
      "(tcp only).\n"
      "\n"
      "Examples:\n"
      "  boxd box proxy expose web 5432\n"
      "  boxd box proxy expose web 8000 --json | jq -r '\"\\(.dns):\\(.public_port)\"'");
  return cmd;
}

int run_proxy_expose(const ProxyExposeOptions& options, Context& ctx) {
  const auto response = ctx.client().expose_port(options.vm, options.port, options.protocol);
  if (options.json) {
    ctx.out << dump_json(proto_to_json(response));
    return 0;
  }
  ctx.out << response.dns() << ":" << response.public_port() << "\n";
  if (!options.quiet) {
    ctx.err << "Exposed " << response.protocol() << " port " << response.vm_port() << " of box '"
            << response.vm_name() << "'\n";
  }
  return 0;
}

}  // namespace boxd::cli
