#pragma once

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct ConfigOptions {
  bool json = false;
};

CLI::App* define_config(CLI::App& parent, ConfigOptions& options);
void add_config(CLI::App& root, Context& ctx);
// The server's defaults (GetConfig): default image and zone.
int run_config(const ConfigOptions& options, Context& ctx);

}  // namespace boxd::cli
