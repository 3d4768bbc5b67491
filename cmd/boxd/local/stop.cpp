// `boxd local stop`: SIGTERM to the background server (server.pid), then
// wait until it is gone. Its boxes stop with it and start again with the
// next `boxd local start`.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "boxd/command.hpp"
#include "boxd/local/background.hpp"
#include "boxd/local/local.hpp"
#include "common/error.hpp"

namespace boxd::cli {

namespace {

struct LocalStopOptions {
  std::filesystem::path state_dir;
  int timeout_secs = 30;
};

CLI::App* define_local_stop(CLI::App& parent, LocalStopOptions& options) {
  CLI::App* cmd = parent.add_subcommand("stop", "Stop the background local boxd server");
  cmd->add_option("--state-dir", options.state_dir,
                  "State directory (default $XDG_DATA_HOME/boxd-local)");
  cmd->add_option("--timeout", options.timeout_secs, "Seconds to wait for it to exit")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->footer(
      "Stopping a server that is not running is not an error.\n"
      "\n"
      "Examples:\n"
      "  boxd local stop\n"
      "  boxd local stop --state-dir /tmp/boxd-demo");
  return cmd;
}

int run_local_stop(const LocalStopOptions& options, Context& ctx) {
  const auto state_dir = resolve_local_state_dir(options.state_dir);
  const auto server = read_background_server(state_dir);
  if (!server.running) {
    std::error_code ec;
    std::filesystem::remove(state_dir / "server.pid", ec);
    ctx.err << "boxd local is not running\n";
    return 0;
  }
  ::kill(server.pid, SIGTERM);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(options.timeout_secs);
  while (read_background_server(state_dir).running) {
    if (std::chrono::steady_clock::now() >= deadline) {
      throw Error(ErrorClass::Timeout,
                  "boxd local (pid " + std::to_string(server.pid) + ") did not stop within " +
                      std::to_string(options.timeout_secs) + " s",
                  "see " + (state_dir / "server.log").string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::error_code ec;
  std::filesystem::remove(state_dir / "server.pid", ec);
  ctx.err << "boxd local stopped (pid " << server.pid << ")\n";
  return 0;
}

}  // namespace

void add_local_stop(CLI::App& parent, Context& ctx) {
  add_leaf<LocalStopOptions>(parent, ctx, define_local_stop, run_local_stop);
}

}  // namespace boxd::cli
