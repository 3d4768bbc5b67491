#include "boxd/template/template.hpp"

#include "common/sizes.hpp"

namespace boxd::cli {

CLI::App* define_template_list(CLI::App& parent, TemplateListOptions& options) {
  (void)options;
  CLI::App* cmd = parent.add_subcommand("list", "List your templates");
  cmd->alias("ls");
  cmd->footer(
      "Examples:\n"
      "  boxd template list\n"
      "  boxd template list --json | jq -r '.[].name'");
  return cmd;
}

Table template_table(const std::vector<api::v1::TemplateInfo>& templates, bool human) {
  Table table;
  table.columns = {"name", "id", "image", "vcpu", "memory", "disk"};
  const auto size = [human](std::uint64_t bytes) {
    if (bytes == 0) {
      return std::string("default");
    }
    return human ? format_size(bytes) : std::to_string(bytes);
  };
  for (const auto& t : templates) {
    table.rows.push_back({t.name(), t.template_id(), t.image_ref(),
                          t.config().vcpu() == 0 ? "default" : std::to_string(t.config().vcpu()),
                          size(t.config().memory_bytes()), size(t.config().disk_bytes())});
  }
  return table;
}

int run_template_list(const TemplateListOptions& options, Context& ctx) {
  const auto templates = ctx.client().list_templates();
  nlohmann::json json = nlohmann::json::array();
  if (options.json) {
    for (const auto& t : templates) {
      json.push_back(proto_to_json(t));
    }
  }
  print_list(ctx, template_table(templates, ctx.stdout_tty), json);
  return 0;
}

}  // namespace boxd::cli
