#pragma once

#include <CLI/CLI.hpp>

#include "boxd/box/bulk.hpp"
#include "boxd/context.hpp"

namespace boxd::cli {

using RebootOptions = BulkOptions;

CLI::App* define_box_reboot(CLI::App& parent, RebootOptions& options);
void add_box_reboot(CLI::App& parent, Context& ctx);
int run_reboot(const RebootOptions& options, Context& ctx);

}  // namespace boxd::cli
