#include "boxd/proxy/proxy.hpp"

#include "boxd/command.hpp"

namespace boxd::cli {

std::string proxy_url(const api::v1::ProxyInfo& proxy) {
  if (proxy.domain().empty()) {
    return "";
  }
  const bool local = proxy.domain().find(".localhost") != std::string::npos;
  return (local ? "http://" : "https://") + proxy.domain();
}

Table proxy_table(const std::vector<api::v1::ProxyInfo>& proxies) {
  Table table;
  table.columns = {"url", "vm", "proxy", "port", "mode", "bots"};
  for (const auto& p : proxies) {
    table.rows.push_back({proxy_url(p), p.vm_name(), p.is_default() ? "(default)" : p.name(),
                          std::to_string(p.effective_port()), p.port_mode(),
                          p.bot_protection() ? "refused" : "allowed"});
  }
  return table;
}

void add_box_proxy(CLI::App& box, Context& ctx) {
  CLI::App* proxy = box.add_subcommand("proxy", "Expose a box's HTTP ports at URLs");
  proxy->require_subcommand(1);
  add_leaf<ProxyListOptions>(*proxy, ctx, define_proxy_list, run_proxy_list);
  add_leaf<ProxyCreateOptions>(*proxy, ctx, define_proxy_create, run_proxy_create);
  add_leaf<ProxySetPortOptions>(*proxy, ctx, define_proxy_set_port, run_proxy_set_port);
  add_leaf<ProxyDeleteOptions>(*proxy, ctx, define_proxy_delete, run_proxy_delete);
  add_leaf<ProxyExposeOptions>(*proxy, ctx, define_proxy_expose, run_proxy_expose);
  add_leaf<ProxyBotProtectionOptions>(*proxy, ctx, define_proxy_bot_protection,
                                      run_proxy_bot_protection);
  proxy->footer(
      "Every box has a default proxy: http://<box>.<user>.localhost:9480 with boxd local,\n"
      "forwarding to the box's port 8080 ('auto') until 'set-port' locks it to another port.\n"
      "Named proxies answer at <proxy>.<box>.<zone> (boxd local: <proxy>.<box>.<user>.localhost).\n"
      "\n"
      "Examples:\n"
      "  boxd box proxy list web\n"
      "  boxd box proxy set-port web --port 3000\n"
      "  boxd box proxy create web api --port 9000\n"
      "  boxd box proxy delete web api\n"
      "  boxd box proxy expose web 5432\n"
      "  boxd box proxy bot-protection web on");
}

}  // namespace boxd::cli
