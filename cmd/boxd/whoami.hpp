#pragma once

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct WhoamiOptions {
  bool json = false;
};

CLI::App* define_whoami(CLI::App& parent, WhoamiOptions& options);
void add_whoami(CLI::App& root, Context& ctx);
int run_whoami(const WhoamiOptions& options, Context& ctx);

}  // namespace boxd::cli
