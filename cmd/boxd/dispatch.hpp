// From argv to an exit code: build the command tree, parse, run the chosen
// command, and map every failure through the one exit-code table.
#pragma once

#include "boxd/context.hpp"

namespace boxd::cli {

#include <optional>
#include <string>
#include <vector>

int run_cli(int argc, const char* const* argv, Context& ctx);

// Splits argv at the first "--": what CLI11 parses, and the words after it
// (nullopt when there is no "--").
struct SplitArgs {
  std::vector<const char*> parsed;
  std::optional<std::vector<std::string>> trailing;
};
SplitArgs split_trailing_args(int argc, const char* const* argv);

}  // namespace boxd::cli
