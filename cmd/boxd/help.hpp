#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct HelpOptions {
  std::vector<std::string> topic;  // empty: boxd's help; "exit-codes"; or a command path
};

// `boxd help [exit-codes | COMMAND...]`; add it last, it looks commands up in root.
void add_help(CLI::App& root, Context& ctx);
int run_help(const HelpOptions& options, const CLI::App& root, Context& ctx);

}  // namespace boxd::cli
