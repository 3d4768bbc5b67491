// `boxd network ...`: private networks for boxes.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/api/v1/api.pb.h"
#include "boxd/context.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

void add_network(CLI::App& root, Context& ctx);

struct NetworkCreateOptions {
  std::string name;  // empty: the server picks one
  bool json = false;
  bool quiet = false;
};
CLI::App* define_network_create(CLI::App& parent, NetworkCreateOptions& options);
int run_network_create(const NetworkCreateOptions& options, Context& ctx);

struct NetworkListOptions {
  bool json = false;
};
CLI::App* define_network_list(CLI::App& parent, NetworkListOptions& options);
Table network_table(const std::vector<api::v1::NetworkInfo>& networks);
int run_network_list(const NetworkListOptions& options, Context& ctx);

}  // namespace boxd::cli
