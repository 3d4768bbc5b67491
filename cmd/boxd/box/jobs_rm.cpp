#include <optional>

#include "boxd/box/job_client.hpp"
#include "boxd/box/job_scripts.hpp"
#include "boxd/box/jobs.hpp"
#include "boxd/command.hpp"
#include "common/error.hpp"

namespace boxd::cli {

CLI::App* define_box_jobs_rm(CLI::App& parent, JobsRmOptions& options) {
  CLI::App* cmd = parent.add_subcommand("rm", "Remove jobs that ended (their log and status)");
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->add_option("IDS", options.ids, "Job ids (none with --ended)");
  cmd->add_flag("--ended", options.ended, "Remove every job that is not running");
  cmd->footer(
      "A running job is never removed: kill it first. Exit status: 0 when every job\n"
      "named is gone; 4 when one does not exist, 5 when one is running (the others are\n"
      "removed).\n"
      "\n"
      "Examples:\n"
      "  boxd box jobs rm web 3f9c01ab\n"
      "  boxd box jobs rm web --ended");
  return cmd;
}

void add_box_jobs_rm(CLI::App& jobs, Context& ctx) {
  add_leaf<JobsRmOptions>(jobs, ctx, define_box_jobs_rm, run_jobs_rm);
}

int run_jobs_rm(const JobsRmOptions& options, Context& ctx) {
  if (options.ids.empty() == !options.ended) {
    throw Error(ErrorClass::Usage, "give job ids or --ended (not both)");
  }
  for (const auto& id : options.ids) {
    check_job_id(id);
  }
  const JobScriptResult result = run_job_script(ctx, options.vm, job_remove_script(options.ids));
  if (result.interrupted_by != 0) {
    return 128 + result.interrupted_by;
  }
  std::optional<Error> failure;
  for (const auto& report : result.reports) {
    const auto space = report.find(' ');
    const std::string word = report.substr(0, space);
    const std::string id = space == std::string::npos ? "" : report.substr(space + 1);
    if (word == "removed" && !ctx.global.quiet) {
      ctx.err << "Removed job " << id << "\n";
    } else if (word == "missing" && !failure) {
      failure =
          Error(ErrorClass::NotFound, "job '" + id + "' not found in box '" + options.vm + "'");
    } else if (word == "running" && !failure) {
      failure = Error(ErrorClass::InvalidArgument, "job '" + id + "' is running",
                      "kill it first: boxd box jobs kill " + options.vm + " " + id);
    }
  }
  if (failure) {
    throw *failure;
  }
  if (result.exit_code != 0) {
    throw Error(ErrorClass::Internal, "could not remove jobs in box '" + options.vm + "' (exit " +
                                          std::to_string(result.exit_code) + ")");
  }
  return 0;
}

}  // namespace boxd::cli
