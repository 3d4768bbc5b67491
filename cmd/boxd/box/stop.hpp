#pragma once

#include <CLI/CLI.hpp>

#include "boxd/box/bulk.hpp"
#include "boxd/context.hpp"

namespace boxd::cli {

using StopOptions = BulkOptions;

CLI::App* define_box_stop(CLI::App& parent, StopOptions& options);
void add_box_stop(CLI::App& parent, Context& ctx);
int run_stop(const StopOptions& options, Context& ctx);

}  // namespace boxd::cli
