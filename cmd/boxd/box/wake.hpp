#pragma once

#include <CLI/CLI.hpp>

#include "boxd/box/bulk.hpp"
#include "boxd/context.hpp"

namespace boxd::cli {

using WakeOptions = BulkOptions;

CLI::App* define_box_wake(CLI::App& parent, WakeOptions& options);
void add_box_wake(CLI::App& parent, Context& ctx);
int run_wake(const WakeOptions& options, Context& ctx);

}  // namespace boxd::cli
