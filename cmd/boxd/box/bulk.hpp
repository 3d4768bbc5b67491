// The shared shape of the lifecycle commands (start, stop, reboot, destroy,
// suspend, resume): NAME... arguments, one call per box, each failure
// reported as `error: ...` while the rest go on, and the exit code of the
// first failure.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct BulkOptions {
  std::vector<std::string> names;
  bool json = false;
  bool quiet = false;
};

// Declares `<verb> NAME...` with the given one-line description and examples.
CLI::App* define_bulk_command(CLI::App& parent, const std::string& verb, const std::string& description,
                              const std::string& examples, std::vector<std::string>& names);

// Calls `one` for each name in order; a boxd::Error is printed and remembered.
// Returns 0, or the exit code of the first failure.
int for_each_box(Context& ctx, const std::vector<std::string>& names,
                 const std::function<void(const std::string&)>& one);

}  // namespace boxd::cli
