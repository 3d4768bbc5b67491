// `boxd machine ...`: the `box` group under the name the official boxd CLI
// uses, with its verbs where they differ: `new` (create), `remove`
// (destroy), `pause` (suspend); the box verbs work there too. It is one
// entry in `boxd --help` and in the man page, and completes like `box`.
#pragma once

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

void add_machine(CLI::App& root, Context& ctx);

}  // namespace boxd::cli
