// From argv to an exit code: build the command tree, parse, run the chosen
// command, and map every failure through the one exit-code table.
#pragma once

#include "boxd/context.hpp"

namespace boxd::cli {

int run_cli(int argc, const char* const* argv, Context& ctx);

}  // namespace boxd::cli
