#include "boxd/proxy/proxy.hpp"

namespace boxd::cli {

CLI::App* define_proxy_bot_protection(CLI::App& parent, ProxyBotProtectionOptions& options) {
  CLI::App* cmd =
      parent.add_subcommand("bot-protection", "Turn bot protection of a box's URLs on or off");
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->add_option_function<std::string>(
         "STATE", [&options](const std::string& state) { options.enabled = state == "on"; },
         "on or off")
      ->required()
      ->check(CLI::IsMember({"on", "off"}));
  cmd->footer(
      "With protection on, requests from automated clients (no User-Agent, crawlers, curl,\n"
      "HTTP libraries) get 403 at the proxy; browsers pass.\n"
      "\n"
      "Examples:\n"
      "  boxd box proxy bot-protection web on\n"
      "  boxd box proxy bot-protection web off");
  return cmd;
}

int run_proxy_bot_protection(const ProxyBotProtectionOptions& options, Context& ctx) {
  ctx.client().set_bot_protection(options.vm, options.enabled);
  if (options.json) {
    ctx.out << dump_json(proto_to_json(api::v1::SetBotProtectionResponse()));
    return 0;
  }
  if (!options.quiet) {
    ctx.err << "Bot protection of box '" << options.vm << "' is "
            << (options.enabled ? "on" : "off") << "\n";
  }
  return 0;
}

}  // namespace boxd::cli
