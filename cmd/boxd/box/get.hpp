#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "boxd/api/v1/api.pb.h"
#include "boxd/context.hpp"

namespace boxd::cli {

struct GetOptions {
  std::string name;
  bool json = false;
};

CLI::App* define_box_get(CLI::App& parent, GetOptions& options);
void add_box_get(CLI::App& parent, Context& ctx);
// https://<name>.<access_domain>, or "" when the server gave no zone.
std::string box_url(const api::v1::GetVmResponse& box);
int run_get(const GetOptions& options, Context& ctx);

}  // namespace boxd::cli
