#pragma once

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct ConfigOptions {
  bool json = false;
};

struct ConfigProfilesOptions {
  bool json = false;
  bool quiet = false;
};

CLI::App* define_config(CLI::App& parent, ConfigOptions& options);
CLI::App* define_config_profiles(CLI::App& parent, ConfigProfilesOptions& options);
// `boxd config` (a command of its own) with the subcommand `profiles`.
void add_config(CLI::App& root, Context& ctx);
// The server's defaults (GetConfig): default image and zone.
int run_config(const ConfigOptions& options, Context& ctx);
// The profiles in $BOXD_CONFIG_DIR/config.json, the active one marked.
int run_config_profiles(const ConfigProfilesOptions& options, Context& ctx);

}  // namespace boxd::cli
