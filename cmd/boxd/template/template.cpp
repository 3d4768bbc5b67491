#include "boxd/template/template.hpp"

#include "boxd/command.hpp"

namespace boxd::cli {

void add_template(CLI::App& root, Context& ctx) {
  CLI::App* group =
      root.add_subcommand("template", "Named box configurations to create boxes from");
  group->require_subcommand(1);
  add_leaf<TemplateCreateOptions>(*group, ctx, define_template_create, run_template_create);
  add_leaf<TemplateListOptions>(*group, ctx, define_template_list, run_template_list);
  add_leaf<TemplateDeleteOptions>(*group, ctx, define_template_delete, run_template_delete);
  group->footer(
      "Examples:\n"
      "  boxd template create small --vcpu 1 --memory 4G\n"
      "  boxd box create web --template small\n"
      "  boxd template list\n"
      "  boxd template delete small");
}

}  // namespace boxd::cli
