#include "boxd/template/template.hpp"

#include "boxd/box/bulk.hpp"

namespace boxd::cli {

CLI::App* define_template_delete(CLI::App& parent, TemplateDeleteOptions& options) {
  CLI::App* cmd = parent.add_subcommand("delete", "Delete templates (boxes made from them stay)");
  cmd->alias("rm");
  cmd->add_option("NAME", options.names, "Template names or ids")->required();
  cmd->footer(
      "Examples:\n"
      "  boxd template delete small\n"
      "  boxd template list -q | xargs boxd template delete");
  return cmd;
}

int run_template_delete(const TemplateDeleteOptions& options, Context& ctx) {
  return for_each_box(ctx, options.names, [&](const std::string& name) {
    ctx.client().delete_template(name);
    if (!options.quiet) {
      ctx.err << "Deleted template '" << name << "'\n";
    }
  });
}

}  // namespace boxd::cli
