#include "boxd/box/logs.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "boxd/box/interrupt.hpp"
#include "boxd/command.hpp"
#include "common/error.hpp"

namespace boxd::cli {

CLI::App* define_box_logs(CLI::App& parent, LogsOptions& options) {
  CLI::App* cmd = parent.add_subcommand("logs", "Show a box's console output");
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->add_flag("-f,--follow", options.follow,
                "Keep printing new output until the box stops or is destroyed (Ctrl-C exits 130)");
  cmd->footer(
      "The console output of every boot, from the first one on, as the box wrote it.\n"
      "\n"
      "Examples:\n"
      "  boxd box logs web\n"
      "  boxd box logs -f web\n"
      "  boxd box logs web | grep -i error");
  return cmd;
}

void add_box_logs(CLI::App& parent, Context& ctx) {
  add_leaf<LogsOptions>(parent, ctx, define_box_logs, run_logs);
}

namespace {
struct ClosedStdout {};
}  // namespace

int run_logs(const LogsOptions& options, Context& ctx) {
  client::CallCancel cancel;
  InterruptWatch watch(cancel);
  ctx.out.flush();
  try {
    ctx.client().stream_logs(
        options.vm, options.follow,
        [fd = ctx.out_fd](std::string_view data) {
          while (!data.empty()) {
            ssize_t n = ::write(fd, data.data(), data.size());
            if (n < 0 && errno == EINTR) {
              continue;
            }
            if (n < 0) {
              if (errno == EPIPE) {
                throw ClosedStdout{};
              }
              throw Error(ErrorClass::Internal,
                          std::string("writing stdout: ") + std::strerror(errno));
            }
            data.remove_prefix(static_cast<std::size_t>(n));
          }
        },
        &cancel);
  } catch (const ClosedStdout&) {
    return 0;  // `| head`: not an error
  }
  return watch.interrupted() ? 130 : 0;
}

}  // namespace boxd::cli
