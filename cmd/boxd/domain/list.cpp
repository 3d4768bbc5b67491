#include "boxd/domain/domain.hpp"

namespace boxd::cli {

CLI::App* define_domain_list(CLI::App& parent, DomainListOptions& options) {
  (void)options;
  CLI::App* cmd = parent.add_subcommand("list", "List your bound domains");
  cmd->alias("ls");
  cmd->footer(
      "Examples:\n"
      "  boxd domain list\n"
      "  boxd domain list --json | jq -r '.[] | \"\\(.domain) \\(.vm_name)\"'");
  return cmd;
}

Table domain_table(const std::vector<api::v1::CustomDomainInfo>& domains) {
  Table table;
  table.columns = {"domain", "vm", "status"};
  table.status_column = 2;
  for (const auto& d : domains) {
    table.rows.push_back({d.domain(), d.vm_name(), d.status()});
  }
  return table;
}

int run_domain_list(const DomainListOptions& options, Context& ctx) {
  const auto domains = ctx.client().list_domains();
  nlohmann::json json = nlohmann::json::array();
  if (options.json) {
    for (const auto& d : domains) {
      json.push_back(proto_to_json(d));
    }
  }
  print_list(ctx, domain_table(domains), json);
  return 0;
}

}  // namespace boxd::cli
