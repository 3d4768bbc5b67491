#include "boxd/domain/domain.hpp"

#include "boxd/command.hpp"

namespace boxd::cli {

void add_domain(CLI::App& root, Context& ctx) {
  CLI::App* group = root.add_subcommand("domain", "Route your own domains to boxes");
  group->require_subcommand(1);
  add_leaf<DomainBindOptions>(*group, ctx, define_domain_bind, run_domain_bind);
  add_leaf<DomainListOptions>(*group, ctx, define_domain_list, run_domain_list);
  add_leaf<DomainUnbindOptions>(*group, ctx, define_domain_unbind, run_domain_unbind);
  group->footer(
      "A bound domain serves the box's default proxy. With boxd local, requests to the\n"
      "proxy (127.0.0.1:9480) whose Host header is the domain reach the box; pointing the\n"
      "name at 127.0.0.1 (e.g. in /etc/hosts) is up to you.\n"
      "\n"
      "Examples:\n"
      "  boxd domain bind app.example.com web\n"
      "  curl -H 'Host: app.example.com' http://127.0.0.1:9480/\n"
      "  boxd domain list\n"
      "  boxd domain unbind app.example.com");
}

}  // namespace boxd::cli
