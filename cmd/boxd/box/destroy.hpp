#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct DestroyOptions {
  std::vector<std::string> names;
  bool yes = false;
  bool quiet = false;
};

CLI::App* define_box_destroy(CLI::App& parent, DestroyOptions& options);
void add_box_destroy(CLI::App& parent, Context& ctx);
// Asks `Destroy box 'x'? [y/N]` per box on a terminal; without a terminal
// on stdin, --yes is required (usage error otherwise, before any call).
int run_destroy(const DestroyOptions& options, Context& ctx);

}  // namespace boxd::cli
