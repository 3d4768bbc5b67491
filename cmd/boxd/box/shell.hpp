#pragma once

#include <CLI/CLI.hpp>

#include "boxd/box/exec.hpp"
#include "boxd/context.hpp"

namespace boxd::cli {

// `box shell VM`: exec with no command (the server runs a login shell).
// Until PTY sessions land it relays stdin like `exec -i`.
struct ShellOptions {
  std::string vm;
  std::vector<std::pair<std::string, std::string>> env;
  std::string workdir;
};

CLI::App* define_box_shell(CLI::App& parent, ShellOptions& options);
void add_box_shell(CLI::App& parent, Context& ctx);
ExecOptions shell_exec_options(const ShellOptions& options);
int run_shell(const ShellOptions& options, Context& ctx);

}  // namespace boxd::cli
