#include "boxd/domain/domain.hpp"

namespace boxd::cli {

CLI::App* define_domain_bind(CLI::App& parent, DomainBindOptions& options) {
  CLI::App* cmd = parent.add_subcommand("bind", "Route a domain to a box");
  cmd->add_option("DOMAIN", options.domain, "Domain name, e.g. app.example.com")->required();
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->footer(
      "Examples:\n"
      "  boxd domain bind app.example.com web\n"
      "  boxd domain bind app.example.com web --json");
  return cmd;
}

int run_domain_bind(const DomainBindOptions& options, Context& ctx) {
  const auto info = ctx.client().bind_domain(options.domain, options.vm);
  if (options.json) {
    ctx.out << dump_json(proto_to_json(info));
    return 0;
  }
  if (!options.quiet) {
    ctx.err << "Bound domain '" << info.domain() << "' to box '" << info.vm_name() << "' ("
            << info.status() << ")\n";
  }
  return 0;
}

}  // namespace boxd::cli
