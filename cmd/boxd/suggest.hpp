// "Did you mean ...?" for a mistyped command or flag (as gh, kubectl and git
// answer). After CLI11 refused the command line with leftover words, the
// deepest command it reached decides what they were: a group's first
// leftover word is an unknown command, a word starting with '-' an unknown
// flag of that command (its own flags and the global ones it inherits).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace boxd::cli {

// Edit distance counting an insertion, a deletion, a substitution or the
// swap of two neighbouring characters as one edit ("craete" -> "create" = 1).
std::size_t edit_distance(const std::string& a, const std::string& b);

// The candidates close to `typed`, closest first (at most 3): within an edit
// distance of 1 for short words, 2 from 5 characters on, or starting with
// `typed` when it has at least 2 characters ("ls" -> "list"); a single
// letter only matches itself in the other case ("-Q" -> "-q"). Dashes are
// compared too, so pass flags with theirs ("--nmae" -> "--name").
std::vector<std::string> suggestions(const std::string& typed,
                                     const std::vector<std::string>& candidates);

// "'a'", "'a' or 'b'", "'a', 'b' or 'c'"
std::string or_list(const std::vector<std::string>& words);

struct UsageProblem {
  std::string message;    // "unknown command 'craete' for 'boxd box'"
  std::string hint;       // "did you mean 'create'?" or ""
  std::string help_path;  // "boxd box": where '--help' lists what exists
};

// After root.parse() threw CLI::ExtrasError: the unknown command or flag
// among the words CLI11 did not use (`words`: the command line without
// argv[0], for their order), or nullopt when the leftovers are
// something else (an extra positional argument).
std::optional<UsageProblem> explain_extras(CLI::App& root, const std::vector<std::string>& words);

}  // namespace boxd::cli
