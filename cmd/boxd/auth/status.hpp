#pragma once

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct StatusOptions {
  bool json = false;
};

CLI::App* define_auth_status(CLI::App& parent, StatusOptions& options);
void add_auth_status(CLI::App& parent, Context& ctx);
// Environment, endpoints, who you are (Whoami) and where the credential came
// from; never the key or the token.
int run_status(const StatusOptions& options, Context& ctx);

}  // namespace boxd::cli
