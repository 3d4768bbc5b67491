#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct SshConfigOptions {
  bool write = false;
  bool remove = false;
  std::string file;  // default ~/.ssh/config
  std::string relay = "auto";
  bool json = false;
  bool quiet = false;
};

CLI::App* define_ssh_config(CLI::App& parent, SshConfigOptions& options);
void add_ssh_config(CLI::App& root, Context& ctx);
int run_ssh_config(const SshConfigOptions& options, Context& ctx);

// The marked block, ending with a newline.
std::string ssh_config_block(const std::string& proxy_command);
// `config` with the marked block replaced (or appended when absent);
// an empty block removes it. Text outside the block is kept byte for byte.
std::string merge_ssh_config(const std::string& config, const std::string& block);

}  // namespace boxd::cli
