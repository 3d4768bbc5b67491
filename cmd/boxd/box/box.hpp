#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

// `boxd box ...`: adds the group and each of its commands. `name` lets
// `boxd machine` (machine.hpp) be the same group under another name.
CLI::App* add_box(CLI::App& root, Context& ctx, const std::string& name = "box");

}  // namespace boxd::cli
