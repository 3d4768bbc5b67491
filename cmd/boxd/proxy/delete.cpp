#include "boxd/proxy/proxy.hpp"

namespace boxd::cli {

CLI::App* define_proxy_delete(CLI::App& parent, ProxyDeleteOptions& options) {
  CLI::App* cmd = parent.add_subcommand("delete", "Remove a named proxy from a box");
  cmd->alias("rm");
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->add_option("NAME", options.name, "Proxy name")->required();
  cmd->footer(
      "The default proxy cannot be deleted; point it elsewhere with 'set-port'.\n"
      "\n"
      "Examples:\n"
      "  boxd box proxy delete web api");
  return cmd;
}

int run_proxy_delete(const ProxyDeleteOptions& options, Context& ctx) {
  ctx.client().delete_proxy(options.vm, options.name);
  if (!options.quiet) {
    ctx.err << "Deleted proxy '" << options.name << "' of box '" << options.vm << "'\n";
  }
  return 0;
}

}  // namespace boxd::cli
