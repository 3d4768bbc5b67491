#include "boxd/proxy/proxy.hpp"

#include "boxd/validators.hpp"

namespace boxd::cli {

CLI::App* define_proxy_create(CLI::App& parent, ProxyCreateOptions& options) {
  CLI::App* cmd = parent.add_subcommand("create", "Add a named proxy to a box and print its URL");
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->add_option("NAME", options.name, "Proxy name (a DNS label)")
      ->required()
      ->check(box_name_validator());
  cmd->add_option("--port", options.port, "The box's port to forward to")
      ->required()
      ->check(CLI::Range(1U, 65535U));
  cmd->footer(
      "Examples:\n"
      "  boxd box proxy create web api --port 9000\n"
      "  curl \"$(boxd box proxy create web admin --port 9001)\"");
  return cmd;
}

int run_proxy_create(const ProxyCreateOptions& options, Context& ctx) {
  const auto proxy = ctx.client().create_proxy(options.vm, options.name, options.port);
  if (options.json) {
    ctx.out << dump_json(proto_to_json(proxy));
    return 0;
  }
  ctx.out << proxy_url(proxy) << "\n";
  if (!options.quiet) {
    ctx.err << "Created proxy '" << proxy.name() << "' on box '" << proxy.vm_name() << "' -> port "
            << proxy.effective_port() << "\n";
  }
  return 0;
}

}  // namespace boxd::cli
