#pragma once

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

// `boxd box ...`: adds the group and each of its commands.
void add_box(CLI::App& root, Context& ctx);

}  // namespace boxd::cli
