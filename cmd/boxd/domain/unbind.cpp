#include "boxd/domain/domain.hpp"

#include "boxd/box/bulk.hpp"

namespace boxd::cli {

CLI::App* define_domain_unbind(CLI::App& parent, DomainUnbindOptions& options) {
  CLI::App* cmd = parent.add_subcommand("unbind", "Stop routing domains to their boxes");
  cmd->add_option("DOMAIN", options.domains, "Domain names")->required();
  cmd->footer(
      "Examples:\n"
      "  boxd domain unbind app.example.com\n"
      "  boxd domain list -q | xargs boxd domain unbind");
  return cmd;
}

int run_domain_unbind(const DomainUnbindOptions& options, Context& ctx) {
  return for_each_box(ctx, options.domains, [&](const std::string& domain) {
    ctx.client().unbind_domain(domain);
    if (!options.quiet) {
      ctx.err << "Unbound domain '" << domain << "'\n";
    }
  });
}

}  // namespace boxd::cli
