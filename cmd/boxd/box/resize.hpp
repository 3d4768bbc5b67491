#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct ResizeOptions {
  std::string name;
  unsigned vcpu = 0;               // 0: unchanged
  std::uint64_t memory_bytes = 0;  // 0: unchanged
  bool json = false;
  bool quiet = false;
};

CLI::App* define_box_resize(CLI::App& parent, ResizeOptions& options);
void add_box_resize(CLI::App& parent, Context& ctx);
// --json: the ResizeVmResponse.
int run_resize(const ResizeOptions& options, Context& ctx);

}  // namespace boxd::cli
