// The flags of `boxd local serve`, shared with `boxd local start` (which
// passes them on to the background server it spawns).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "local/server.hpp"

namespace boxd::cli {

// Binds the serve flags of docs/design.md, section 8, to options.
void add_serve_flags(CLI::App& command, local::ServeOptions& options);

// The same flags as argv words (for `local start`). Keys are NOT included:
// they travel in the environment, never in argv.
std::vector<std::string> serve_flags_to_argv(const local::ServeOptions& options);

}  // namespace boxd::cli
