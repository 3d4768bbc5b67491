// `boxd box set-auto-suspend VM S` and `boxd box set-auto-hibernate VM S`:
// one SDK call each (SetAutoSuspendTimeout, SetAutoHibernateTimeout).
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "boxd/api/v1/api.pb.h"
#include "boxd/context.hpp"

namespace boxd::cli {

struct SetTimeoutOptions {
  std::string name;
  std::uint32_t secs = 0;  // 0: off
  bool json = false;       // prints the (empty) response object
  bool quiet = false;
};

CLI::App* define_box_set_auto_suspend(CLI::App& parent, SetTimeoutOptions& options);
void add_box_set_auto_suspend(CLI::App& parent, Context& ctx);
int run_set_auto_suspend(const SetTimeoutOptions& options, Context& ctx);

CLI::App* define_box_set_auto_hibernate(CLI::App& parent, SetTimeoutOptions& options);
void add_box_set_auto_hibernate(CLI::App& parent, Context& ctx);
int run_set_auto_hibernate(const SetTimeoutOptions& options, Context& ctx);

}  // namespace boxd::cli
