// A plain model of the CLI11 command tree, read once from the real CLI::App
// objects, from which the completion scripts and the man page are generated.
// Generating from the tree (and not from a second, hand-written list) is what
// keeps help, completions and man pages in step; tests/e2e/test_docs.py fails
// when the committed copies under completions/ and man/ are stale.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace boxd::cli::docs {

struct OptionDoc {
  std::vector<std::string> long_names;   // without dashes
  std::vector<std::string> short_names;  // without the dash
  std::string value_name;                // empty for a flag
  std::string description;
  std::vector<std::string> values;  // fixed choices, e.g. --tty modes
};

struct PositionalDoc {
  std::string name;  // "VM", "NAME", ...
  std::string description;
  std::string dynamic;    // "vms", "disks", "templates" or "" (nothing to complete)
  bool repeated = false;  // takes every word from here on (VMS..., COMMAND...)
};

struct CommandDoc {
  std::vector<std::string> path;  // {"box", "exec"}; empty for the root
  std::string name;
  std::string description;
  std::string footer;  // the Examples: section
  std::vector<OptionDoc> options;
  std::vector<PositionalDoc> positionals;
  std::vector<CommandDoc> children;
};

// Hidden commands (empty group) and the help flag are left out.
CommandDoc read_tree(const CLI::App& root);

// Every command in depth-first order, root first.
std::vector<const CommandDoc*> flatten(const CommandDoc& root);

std::string bash_completion(const CommandDoc& root);
std::string zsh_completion(const CommandDoc& root);
std::string fish_completion(const CommandDoc& root);
std::string man_page(const CommandDoc& root);

}  // namespace boxd::cli::docs
