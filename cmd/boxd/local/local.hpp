// `boxd local ...`: run boxd's API on this machine (serve in the
// foreground; start, stop and status manage a background server).
#pragma once

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

void add_local(CLI::App& root, Context& ctx);

void add_local_serve(CLI::App& parent, Context& ctx);
void add_local_start(CLI::App& parent, Context& ctx);
void add_local_stop(CLI::App& parent, Context& ctx);
void add_local_status(CLI::App& parent, Context& ctx);
void add_local_logs(CLI::App& parent, Context& ctx);

}  // namespace boxd::cli
