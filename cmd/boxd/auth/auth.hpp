#pragma once

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

// `boxd auth ...`: login, logout, status.
void add_auth(CLI::App& root, Context& ctx);

}  // namespace boxd::cli
