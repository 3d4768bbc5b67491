#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct LoginOptions {
  bool no_verify = false;
};

CLI::App* define_auth_login(CLI::App& parent, LoginOptions& options);
void add_auth_login(CLI::App& parent, Context& ctx);
// "" when the key looks like a boxd API key (bxd_/bxk_ + base62), else the
// problem. Never includes the key.
std::string api_key_problem(const std::string& key);
// The credentials.json entry: the active profile, else the environment.
std::string credentials_entry(const client::ResolvedConfig& config);
int run_login(const LoginOptions& options, Context& ctx);

}  // namespace boxd::cli
