// `boxd box wait VM [--for running|ready|stopped|deleted] [--timeout S]`,
// and the wait itself, which `box create --wait` shares.
//
// running, stopped: GetVm reports that status. deleted: GetVm says the box
// does not exist (or reports it destroyed). ready: the box is running and a
// command actually runs in it (Exec of `true` exits 0), which is what
// scripts need; a status alone can say running before the box answers.
// Polls with a growing interval (0.2 s up to 2 s). Errors of GetVm end the
// wait at once (the box is gone, credentials are wrong, the server is
// unreachable: none of these fixes itself); a failing probe command is
// retried until the deadline.
#pragma once

#include <chrono>
#include <string>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct WaitOptions {
  std::string vm;
  std::string target = "ready";  // running, ready, stopped, deleted
  double timeout_secs = 300;     // 0: no limit
  bool json = false;
  bool quiet = false;
};

CLI::App* define_box_wait(CLI::App& parent, WaitOptions& options);
void add_box_wait(CLI::App& parent, Context& ctx);
// 0 once reached; TimeoutError (exit 7) at the deadline, naming the last status.
int run_wait(const WaitOptions& options, Context& ctx);

struct WaitOutcome {
  std::string status;  // the last status seen ("" once deleted)
  std::chrono::milliseconds elapsed{0};
};

// Waits for `target`; a spinner on stderr when `spinner`. Throws
// Error(Timeout) when the deadline (timeout_secs > 0) passes first.
WaitOutcome wait_for_box(Context& ctx, const std::string& vm, const std::string& target,
                         double timeout_secs, bool spinner);

}  // namespace boxd::cli
