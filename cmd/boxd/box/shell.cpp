#include "boxd/box/shell.hpp"

#include "boxd/command.hpp"
#include "boxd/validators.hpp"

namespace boxd::cli {

CLI::App* define_box_shell(CLI::App& parent, ShellOptions& options) {
  CLI::App* cmd = parent.add_subcommand("shell", "Open a login shell in a box");
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->add_option_function<std::vector<std::string>>(
         "-e,--env",
         [&options](const std::vector<std::string>& pairs) {
           for (const auto& pair : pairs) {
             options.env.push_back(split_env_pair(pair));
           }
         },
         "Set an environment variable for the shell (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false)
      ->check(env_pair_validator());
  cmd->add_option("-w,--workdir", options.workdir, "Working directory")->type_name("DIR");
  cmd->footer(
      "Examples:\n"
      "  boxd box shell web\n"
      "  echo 'uname -a' | boxd box shell web");
  return cmd;
}

void add_box_shell(CLI::App& parent, Context& ctx) {
  add_leaf<ShellOptions>(parent, ctx, define_box_shell, run_shell);
}

ExecOptions shell_exec_options(const ShellOptions& options) {
  ExecOptions exec;
  exec.vm = options.vm;
  exec.env = options.env;
  exec.workdir = options.workdir;
  exec.interactive = true;
  return exec;
}

int run_shell(const ShellOptions& options, Context& ctx) {
  return run_exec(shell_exec_options(options), ctx);
}

}  // namespace boxd::cli
