#pragma once

#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/api/v1/api.pb.h"
#include "boxd/context.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

struct ListOptions {
  bool json = false;
  bool quiet = false;
};

CLI::App* define_box_list(CLI::App& parent, ListOptions& options);
void add_box_list(CLI::App& parent, Context& ctx);
// NAME STATUS IMAGE VCPU MEMORY CREATED; `human` picks sizes/times for a terminal.
Table box_table(const std::vector<api::v1::GetVmResponse>& boxes, bool human, std::int64_t now);
int run_list(const ListOptions& options, Context& ctx);

}  // namespace boxd::cli
