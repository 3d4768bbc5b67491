#pragma once

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct LogoutOptions {};

CLI::App* define_auth_logout(CLI::App& parent, LogoutOptions& options);
void add_auth_logout(CLI::App& parent, Context& ctx);
int run_logout(const LogoutOptions& options, Context& ctx);

}  // namespace boxd::cli
