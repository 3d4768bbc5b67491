#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct ExecOptions {
  std::string vm;
  std::vector<std::string> command;  // empty: a login shell
  std::vector<std::pair<std::string, std::string>> env;
  std::string workdir;
  std::optional<double> timeout_secs;
  bool no_stdin = false;     // -n: close the remote stdin at once
  bool interactive = false;  // -i: relay stdin even when it is a terminal
  bool json = false;
  bool jsonl = false;             // one JSON line per output chunk, then the status
  std::string tty = "auto";       // --tty=auto|always|never (-t, -T)
  std::string escape_char = "~";  // --escape-char C | ^X | none
  bool detach = false;            // --detach: start as a job in the box (exec_detach.hpp)
};

CLI::App* define_box_exec(CLI::App& parent, ExecOptions& options);
void add_box_exec(CLI::App& parent, Context& ctx);
// The one command string sent to the server (docs/design.md, section 6 "Exec").
std::string exec_command_string(const ExecOptions& options);
// Whether local stdin is pumped to the remote command.
bool exec_relays_stdin(const ExecOptions& options, bool stdin_tty);
// Exit: the remote status; 128+N for a remote signal N; 124 on --timeout;
// 130/143 on local SIGINT/SIGTERM; 255 when boxd itself failed.
int run_exec(const ExecOptions& options, Context& ctx);

// "SIGKILL" for 9; "" when n is not a known signal.
std::string signal_name(int n);

}  // namespace boxd::cli
