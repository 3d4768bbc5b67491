#pragma once

#include <CLI/CLI.hpp>

#include "boxd/box/bulk.hpp"
#include "boxd/context.hpp"

namespace boxd::cli {

using StartOptions = BulkOptions;

CLI::App* define_box_start(CLI::App& parent, StartOptions& options);
void add_box_start(CLI::App& parent, Context& ctx);
int run_start(const StartOptions& options, Context& ctx);

}  // namespace boxd::cli
