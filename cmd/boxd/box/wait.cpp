#include "boxd/box/wait.hpp"

#include <algorithm>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "boxd/command.hpp"
#include "boxd/output.hpp"
#include "boxd/term/spinner.hpp"
#include "common/error.hpp"

namespace boxd::cli {

CLI::App* define_box_wait(CLI::App& parent, WaitOptions& options) {
  CLI::App* cmd =
      parent.add_subcommand("wait", "Wait until a box is running, ready, stopped or deleted");
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->add_option("--for", options.target,
                  "running, ready (a command actually runs in it; the default), stopped, deleted")
      ->type_name("STATE")
      ->check(CLI::IsMember({"running", "ready", "stopped", "deleted"}));
  cmd->add_option("--timeout", options.timeout_secs,
                  "Give up after S seconds (exit 7); 0: no limit")
      ->type_name("S")
      ->check(CLI::NonNegativeNumber);
  cmd->footer(
      "Exit status: 0 once reached; 7 (TimeoutError) when the timeout passed first; 4 when\n"
      "the box does not exist (except --for deleted). --json prints\n"
      "{\"name\",\"for\",\"status\",\"elapsed_ms\"}.\n"
      "\n"
      "Examples:\n"
      "  boxd box start web && boxd box wait web\n"
      "  boxd box wait web --for stopped --timeout 60\n"
      "  boxd box destroy --yes web && boxd box wait web --for deleted");
  return cmd;
}

void add_box_wait(CLI::App& parent, Context& ctx) {
  add_leaf<WaitOptions>(parent, ctx, define_box_wait, run_wait);
}

namespace {

using Clock = std::chrono::steady_clock;

// Whether the box is in the target state now; `status` gets what GetVm said.
bool reached(Context& ctx, const std::string& vm, const std::string& target,
             std::optional<Clock::time_point> deadline, std::string& status) {
  try {
    status = ctx.client().get_vm(vm).status();
  } catch (const Error& e) {
    if (e.error_class() == ErrorClass::NotFound && target == "deleted") {
      status.clear();
      return true;
    }
    throw;
  }
  if (target == "deleted") {
    return status == "destroyed";
  }
  if (target != "ready" || status != "running") {
    return status == target;
  }
  client::ExecRequest probe;
  probe.vm = vm;
  probe.command = "true";
  auto budget = std::chrono::milliseconds(15000);
  if (deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
    budget = std::clamp(left, std::chrono::milliseconds(100), budget);
  }
  probe.deadline = budget;
  try {
    auto session = ctx.client().exec(probe);
    session->close_stdin();
    api::v1::ExecChunk chunk;
    int exit_code = 0;
    while (session->read(chunk)) {
      if (chunk.exit_code() != 0) {
        exit_code = chunk.exit_code();
      }
    }
    session->finish();
    return exit_code == 0;
  } catch (const Error& e) {
    if (e.error_class() == ErrorClass::NotFound || e.error_class() == ErrorClass::Authentication) {
      throw;
    }
    return false;  // not accepting commands yet: try again
  }
}

std::string target_words(const std::string& target) {
  return target == "deleted" ? "deleted" : "to be " + target;
}

Error timeout_error(const std::string& vm, const std::string& target, double timeout_secs,
                    const std::string& status) {
  std::string hint;
  if (status == "stopped" && (target == "running" || target == "ready")) {
    hint = "start it with 'boxd box start " + vm + "'";
  }
  return Error(ErrorClass::Timeout,
               fmt::format("box '{}' not {} after {} s (status: {})", vm, target, timeout_secs,
                           status.empty() ? "unknown" : status),
               hint);
}

}  // namespace

WaitOutcome wait_for_box(Context& ctx, const std::string& vm, const std::string& target,
                         double timeout_secs, bool spinner_enabled) {
  const auto started = Clock::now();
  std::optional<Clock::time_point> deadline;
  if (timeout_secs > 0) {
    deadline = started + std::chrono::milliseconds(static_cast<std::int64_t>(timeout_secs * 1000));
  }
  Spinner spinner(ctx.err, spinner_enabled,
                  fmt::format("Waiting for box '{}' {}...", vm, target_words(target)));
  auto interval = std::chrono::milliseconds(200);
  std::string status;
  for (;;) {
    if (reached(ctx, vm, target, deadline, status)) {
      spinner.stop();
      return {status,
              std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started)};
    }
    const auto now = Clock::now();
    if (deadline && now >= *deadline) {
      spinner.stop();
      throw timeout_error(vm, target, timeout_secs, status);
    }
    auto pause = interval;
    if (deadline) {
      pause =
          std::min(pause, std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now) +
                              std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(pause);
    interval = std::min(interval * 3 / 2, std::chrono::milliseconds(2000));
  }
}

int run_wait(const WaitOptions& options, Context& ctx) {
  const WaitOutcome outcome = wait_for_box(ctx, options.vm, options.target, options.timeout_secs,
                                           ctx.stderr_tty && !options.quiet);
  if (options.json) {
    ctx.out << dump_json({{"name", options.vm},
                          {"for", options.target},
                          {"status", outcome.status},
                          {"elapsed_ms", outcome.elapsed.count()}});
    return 0;
  }
  if (!options.quiet) {
    ctx.err << fmt::format("Box '{}' is {} ({:.1f} s)\n", options.vm,
                           options.target == "deleted" ? "deleted" : options.target,
                           static_cast<double>(outcome.elapsed.count()) / 1000.0);
  }
  return 0;
}

}  // namespace boxd::cli
