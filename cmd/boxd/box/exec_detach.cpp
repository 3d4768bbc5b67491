#include "boxd/box/exec_detach.hpp"

#include <nlohmann/json.hpp>

#include "boxd/box/job_client.hpp"
#include "boxd/box/job_scripts.hpp"
#include "boxd/output.hpp"
#include "common/error.hpp"
#include "common/shell_quote.hpp"

namespace boxd::cli {

namespace {

void check_detach_options(const ExecOptions& options) {
  if (options.command.empty()) {
    throw Error(ErrorClass::Usage, "--detach needs a command", "boxd box exec --detach VM -- CMD");
  }
  if (options.jsonl || options.tty == "always" || options.interactive || options.timeout_secs) {
    throw Error(ErrorClass::Usage,
                "--detach cannot be combined with --jsonl, -t/--tty=always, -i or --timeout",
                "a job's output goes to its log: 'boxd box jobs logs VM ID -f'");
  }
}

// The command on one line, for listings.
std::string job_title(const ExecOptions& options) {
  std::string title = join_command(options.command);
  for (char& c : title) {
    if (c == '\n' || c == '\t' || c == '\r') {
      c = ' ';
    }
  }
  return title;
}

}  // namespace

int run_exec_detach(const ExecOptions& options, Context& ctx) {
  check_detach_options(options);
  const std::string command = exec_command_string(options);
  // Ids are random; one retry covers the rare collision with an existing job.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const std::string id = new_job_id();
    const JobScriptResult result =
        run_job_script(ctx, options.vm, job_launch_script(id, command, job_title(options)));
    if (result.interrupted_by != 0) {
      return 128 + result.interrupted_by;
    }
    if (find_report(result, "taken")) {
      continue;
    }
    const auto started = find_report(result, "started");
    if (!started || started->empty() || result.exit_code != 0) {
      throw Error(ErrorClass::Internal,
                  "could not start the job in box '" + options.vm + "' (exit " +
                      std::to_string(result.exit_code) + ")",
                  "the box needs a POSIX sh and coreutils");
    }
    if (options.json) {
      ctx.out << dump_json({{"id", id},
                            {"vm", options.vm},
                            {"pid", std::stoll(started->front())},
                            {"command", job_title(options)}});
      return 0;
    }
    ctx.out << id << "\n";
    ctx.out.flush();
    if (!ctx.global.quiet) {
      ctx.err << "Started job " << id << " in box '" << options.vm
              << "'; follow it with: boxd box jobs logs " << options.vm << " " << id << " -f\n";
    }
    return 0;
  }
  throw Error(ErrorClass::Internal, "could not pick a free job id in box '" + options.vm + "'");
}

}  // namespace boxd::cli
