#pragma once

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

// The global options and every area of the command tree, in one list.
void build_root(CLI::App& root, Context& ctx);

}  // namespace boxd::cli
