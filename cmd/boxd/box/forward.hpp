#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct ForwardOptions {
  std::string vm;
  std::vector<std::string> specs;
  bool stdio = false;
  std::string relay = "auto";
  bool json = false;
  bool quiet = false;
};

// One `[LOCAL_ADDR:]LOCAL_PORT:REMOTE_PORT` (or `PORT` = same both sides).
struct ForwardSpec {
  std::string local_address = "127.0.0.1";
  unsigned local_port = 0;  // 0: a free port
  unsigned remote_port = 0;
};
// Throws a usage Error on bad input. IPv6 addresses go in brackets.
ForwardSpec parse_forward_spec(const std::string& text);
// `web.boxd` -> `web` (the ssh-config host names); other names unchanged.
std::string strip_boxd_suffix(const std::string& host);

CLI::App* define_box_forward(CLI::App& parent, ForwardOptions& options);
void add_box_forward(CLI::App& parent, Context& ctx);
int run_forward(const ForwardOptions& options, Context& ctx);

}  // namespace boxd::cli
