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
// "memory 256MiB, cpu 2 vcpu, pids 2048", or "no limits" when all are 0.
std::string enforced_text(const api::v1::EnforcedLimits& limits);
int run_get(const GetOptions& options, Context& ctx);

}  // namespace boxd::cli
