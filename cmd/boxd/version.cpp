#include "boxd/version.hpp"

#include <nlohmann/json.hpp>

#include "boxd/command.hpp"
#include "boxd/output.hpp"
#include "common/version.hpp"

namespace boxd::cli {

CLI::App* define_version(CLI::App& parent, VersionOptions& options) {
  (void)options;
  CLI::App* cmd = parent.add_subcommand("version", "Print the version of boxd");
  cmd->footer(
      "Examples:\n"
      "  boxd version\n"
      "  boxd version --json");
  return cmd;
}

void add_version(CLI::App& root, Context& ctx) {
  add_leaf<VersionOptions>(root, ctx, define_version, run_version);
}

int run_version(const VersionOptions& options, Context& ctx) {
  if (options.json) {
    ctx.out << dump_json(nlohmann::json{{"version", k_version}});
  } else {
    ctx.out << "boxd " << k_version << "\n";
  }
  return 0;
}

}  // namespace boxd::cli
