#pragma once

#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

// The global options and the areas of the command tree, in one list. With `first_word` (the first
// word of the command line after the global options, see first_command_word), areas are added in
// order only until one has that name: a command line's own area is all it can reach, and building
// the rest cost about a third of a short command's start-up (tests/bench/FINDINGS.md). An unknown
// word, "help" or none gets every area (help, "did you mean", completion).
void build_root(CLI::App& root, Context& ctx, std::string_view first_word = {});

// The first word of argv[1..] that is not a global option or its value, or
// "" (a leading "--", or none).
std::string_view first_command_word(const std::vector<const char*>& argv);

}  // namespace boxd::cli
