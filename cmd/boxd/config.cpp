#include "boxd/config.hpp"

#include "boxd/command.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

CLI::App* define_config(CLI::App& parent, ConfigOptions& options) {
  (void)options;
  CLI::App* cmd = parent.add_subcommand("config", "Show the server's defaults (default image, zone)");
  cmd->footer(
      "Examples:\n"
      "  boxd config\n"
      "  boxd config --json | jq -r .default_image");
  return cmd;
}

void add_config(CLI::App& root, Context& ctx) {
  add_leaf<ConfigOptions>(root, ctx, define_config, run_config);
}

int run_config(const ConfigOptions& options, Context& ctx) {
  const auto response = ctx.client().get_config();
  if (options.json) {
    ctx.out << dump_json(proto_to_json(response));
    return 0;
  }
  render_fields(ctx.out, {{"default_image", response.default_image()}, {"zone", response.zone()}});
  return 0;
}

}  // namespace boxd::cli
