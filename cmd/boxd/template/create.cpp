#include "boxd/template/template.hpp"

#include "boxd/validators.hpp"
#include "boxd/vm_config_flags.hpp"
#include "common/sizes.hpp"

namespace boxd::cli {

CLI::App* define_template_create(CLI::App& parent, TemplateCreateOptions& options) {
  CLI::App* cmd = parent.add_subcommand("create", "Save a box configuration under a name");
  cmd->add_option("NAME", options.name, "Template name (a DNS label)")
      ->required()
      ->check(box_name_validator());
  define_vm_config_flags(cmd, options);
  cmd->footer(
      "Examples:\n"
      "  boxd template create small --vcpu 1 --memory 4G\n"
      "  boxd template create big --vcpu 8 --memory 32G --disk 50G --json");
  return cmd;
}

api::v1::CreateTemplateRequest template_create_request(const TemplateCreateOptions& options) {
  api::v1::CreateTemplateRequest request;
  request.set_name(options.name);
  request.set_image_ref(options.image);
  auto* config = request.mutable_config();
  config->set_vcpu(options.vcpu);
  config->set_memory_bytes(options.memory_bytes);
  config->set_disk_bytes(options.disk_bytes);
  if (options.auto_suspend_timeout_secs) {
    config->mutable_srf()->set_auto_suspend_timeout_secs(*options.auto_suspend_timeout_secs);
  }
  if (options.auto_destroy_timeout_secs) {
    config->mutable_srf()->set_auto_destroy_timeout_secs(*options.auto_destroy_timeout_secs);
  }
  return request;
}

int run_template_create(const TemplateCreateOptions& options, Context& ctx) {
  const auto info = ctx.client().create_template(template_create_request(options));
  if (options.json) {
    ctx.out << dump_json(proto_to_json(info));
    return 0;
  }
  ctx.out << info.name() << "\n";
  if (!options.quiet) {
    ctx.err << "Created template '" << info.name() << "' (" << info.template_id() << ")\n";
  }
  return 0;
}

}  // namespace boxd::cli
