#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct LogsOptions {
  std::string vm;
  bool follow = false;
};

CLI::App* define_box_logs(CLI::App& parent, LogsOptions& options);
void add_box_logs(CLI::App& parent, Context& ctx);
int run_logs(const LogsOptions& options, Context& ctx);

}  // namespace boxd::cli
