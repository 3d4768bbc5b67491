#pragma once

#include <CLI/CLI.hpp>

#include "boxd/box/bulk.hpp"
#include "boxd/context.hpp"

namespace boxd::cli {

using SuspendOptions = BulkOptions;

CLI::App* define_box_suspend(CLI::App& parent, SuspendOptions& options);
void add_box_suspend(CLI::App& parent, Context& ctx);
// --json: one object per box and line, {"name": ..., "suspend_us": N}.
int run_suspend(const SuspendOptions& options, Context& ctx);

}  // namespace boxd::cli
