#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct ForkOptions {
  std::string source;
  std::string name;  // empty: <source>-fork
  bool json = false;
};

CLI::App* define_box_fork(CLI::App& parent, ForkOptions& options);
void add_box_fork(CLI::App& parent, Context& ctx);
int run_fork(const ForkOptions& options, Context& ctx);

}  // namespace boxd::cli
