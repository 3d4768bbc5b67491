#include "boxd/box/fork.hpp"

#include "boxd/command.hpp"
#include "boxd/output.hpp"
#include "boxd/term/spinner.hpp"
#include "boxd/validators.hpp"

namespace boxd::cli {

CLI::App* define_box_fork(CLI::App& parent, ForkOptions& options) {
  CLI::App* cmd =
      parent.add_subcommand("fork", "Copy a box (its disk) into a new box and print its name");
  cmd->add_option("SRC", options.source, "Source box name or id")->required();
  cmd->add_option("NAME", options.name, "Name of the new box (default: <SRC>-fork)")
      ->check(box_name_validator());
  cmd->footer(
      "Examples:\n"
      "  boxd box fork golden\n"
      "  boxd box fork golden agent-1 --json");
  return cmd;
}

void add_box_fork(CLI::App& parent, Context& ctx) {
  add_leaf<ForkOptions>(parent, ctx, define_box_fork, run_fork);
}

int run_fork(const ForkOptions& options, Context& ctx) {
  api::v1::ForkVmRequest request;
  request.set_source_vm_id(options.source);
  request.set_name(options.name);
  Spinner spinner(ctx.err, ctx.stderr_tty && !ctx.global.quiet,
                  "Forking '" + options.source + "'...");
  const api::v1::ForkVmResponse response = ctx.client().fork_vm(request);
  spinner.stop();
  if (options.json) {
    ctx.out << dump_json(proto_to_json(response));
    return 0;
  }
  ctx.out << response.name() << "\n";
  ctx.out.flush();
  ctx.err << "Forked '"
          << (response.forked_from().empty() ? options.source : response.forked_from())
          << "' into '" << response.name() << "' (" << response.status();
  if (response.boot_time_ms() > 0) {
    ctx.err << ", booted in " << response.boot_time_ms() << " ms";
  }
  ctx.err << ")\n";
  if (!response.url().empty()) {
    ctx.err << "  url: " << response.url() << "\n";
  }
  return 0;
}

}  // namespace boxd::cli
