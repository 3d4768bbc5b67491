#include "boxd/box/resize.hpp"

#include "boxd/command.hpp"
#include "boxd/output.hpp"
#include "boxd/validators.hpp"
#include "common/error.hpp"
#include "common/sizes.hpp"

namespace boxd::cli {

CLI::App* define_box_resize(CLI::App& parent, ResizeOptions& options) {
  CLI::App* cmd = parent.add_subcommand("resize", "Change a box's vCPUs and memory");
  cmd->add_option("NAME", options.name, "Box name or id")->required();
  cmd->add_option("--vcpu", options.vcpu, "Number of vCPUs (default: unchanged)")
      ->check(CLI::Range(1U, 1024U));
  cmd->add_option_function<std::string>(
         "--memory",
         [&options](const std::string& text) { options.memory_bytes = *parse_size(text); },
         "Memory size (at least 64M): 512M, 4G, 1.5G, 10GiB or bytes (default: unchanged)")
      ->type_name("SIZE")
      ->check(memory_validator());
  cmd->footer(
      "Examples:\n"
      "  boxd box resize web --vcpu 4 --memory 16G\n"
      "  boxd box resize web --memory 8G --json | jq .rebooted");
  return cmd;
}

void add_box_resize(CLI::App& parent, Context& ctx) {
  add_leaf<ResizeOptions>(parent, ctx, define_box_resize, run_resize);
}

int run_resize(const ResizeOptions& options, Context& ctx) {
  if (options.vcpu == 0 && options.memory_bytes == 0) {
    throw Error(ErrorClass::Usage, "nothing to resize: give --vcpu and/or --memory");
  }
  const auto response = ctx.client().resize_vm(options.name, options.vcpu, options.memory_bytes);
  if (options.json) {
    ctx.out << dump_json(proto_to_json(response));
    return 0;
  }
  if (!options.quiet) {
    ctx.err << "Resized box '" << options.name << "' to " << response.vcpu() << " vCPU, "
            << format_size(response.memory_bytes()) << (response.rebooted() ? " (rebooted)" : "")
            << "\n";
  }
  return 0;
}

}  // namespace boxd::cli
