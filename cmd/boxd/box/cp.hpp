#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct CpOptions {
  std::string source;
  std::string destination;
  bool recursive = false;
  bool quiet = false;
  bool json = false;
};

// One side of a copy: a box path (`VM:PATH`), stdin/stdout (`-`) or a local path.
struct CpEndpoint {
  std::string vm;    // empty: local
  std::string path;  // box path as given ("" = the home), or the local path
  bool stdio = false;
};
// `VM:PATH` when the part before the first ':' is a non-empty word without '/'.
CpEndpoint parse_cp_endpoint(const std::string& text);

CLI::App* define_box_cp(CLI::App& parent, CpOptions& options);
void add_box_cp(CLI::App& parent, Context& ctx);
int run_cp(const CpOptions& options, Context& ctx);

}  // namespace boxd::cli
