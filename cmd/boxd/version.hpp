#pragma once

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct VersionOptions {
  bool json = false;
};

CLI::App* define_version(CLI::App& parent, VersionOptions& options);
void add_version(CLI::App& root, Context& ctx);
// No network, no config files.
int run_version(const VersionOptions& options, Context& ctx);

}  // namespace boxd::cli
