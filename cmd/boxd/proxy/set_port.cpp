#include "boxd/proxy/proxy.hpp"

#include "common/error.hpp"

namespace boxd::cli {

CLI::App* define_proxy_set_port(CLI::App& parent, ProxySetPortOptions& options) {
  CLI::App* cmd = parent.add_subcommand("set-port", "Change the port a proxy forwards to");
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->add_option("NAME", options.name, "Proxy name (default: the default proxy)");
  cmd->add_option("--port", options.port, "A port number, or 'auto' (default proxy only: 8080)")
      ->required()
      ->type_name("N|auto")
      ->check([](const std::string& text) -> std::string {
        if (text == "auto") {
          return "";
        }
        try {
          std::size_t used = 0;
          const long port = std::stol(text, &used);
          if (used == text.size() && port >= 1 && port <= 65535) {
            return "";
          }
        } catch (const std::exception&) {
        }
        return "expected a port 1-65535 or 'auto', got '" + text + "'";
      });
  cmd->footer(
      "Examples:\n"
      "  boxd box proxy set-port web --port 3000\n"
      "  boxd box proxy set-port web --port auto\n"
      "  boxd box proxy set-port web api --port 9002");
  return cmd;
}

int run_proxy_set_port(const ProxySetPortOptions& options, Context& ctx) {
  if (!options.name.empty() && options.port == "auto") {
    throw Error(ErrorClass::Usage, "--port auto is only for the default proxy");
  }
  auto& client = ctx.client();
  client.set_proxy_port(options.vm, options.name, options.port);
  api::v1::ProxyInfo updated;
  for (const auto& p : client.list_proxies(options.vm)) {
    if (p.name() == options.name) {
      updated = p;
    }
  }
  if (options.json) {
    ctx.out << dump_json(proto_to_json(updated));
    return 0;
  }
  if (!options.quiet) {
    ctx.err << "Proxy " << (options.name.empty() ? "(default)" : "'" + options.name + "'")
            << " of box '" << updated.vm_name() << "' -> port " << updated.effective_port() << " ("
            << updated.port_mode() << ")\n";
  }
  return 0;
}

}  // namespace boxd::cli
