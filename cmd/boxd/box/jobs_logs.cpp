#include "boxd/box/job_client.hpp"
#include "boxd/box/job_scripts.hpp"
#include "boxd/box/jobs.hpp"
#include "boxd/command.hpp"
#include "common/error.hpp"

namespace boxd::cli {

CLI::App* define_box_jobs_logs(CLI::App& parent, JobsLogsOptions& options) {
  CLI::App* cmd =
      parent.add_subcommand("logs", "Show a job's output (stdout and stderr as written)");
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->add_option("ID", options.id, "Job id (from 'box exec --detach' or 'box jobs VM')")
      ->required();
  cmd->add_flag("-f,--follow", options.follow,
                "Keep printing new output until the job ends, then exit with its status");
  cmd->footer(
      "Exit status: 0 once the log is printed; with -f the job's own status (128+N when\n"
      "a signal N ended it), 1 when it ended without one (its box was stopped), 130\n"
      "on Ctrl-C (the job keeps running); 4 when the box or the job does not exist.\n"
      "\n"
      "Examples:\n"
      "  boxd box jobs logs web 3f9c01ab\n"
      "  boxd box jobs logs web 3f9c01ab -f && echo built");
  return cmd;
}

void add_box_jobs_logs(CLI::App& jobs, Context& ctx) {
  add_leaf<JobsLogsOptions>(jobs, ctx, define_box_jobs_logs, run_jobs_logs);
}

int run_jobs_logs(const JobsLogsOptions& options, Context& ctx) {
  check_job_id(options.id);
  ctx.out.flush();
  const JobScriptResult result =
      run_job_script(ctx, options.vm, job_logs_script(options.id, options.follow), true);
  if (result.interrupted_by != 0) {
    return 128 + result.interrupted_by;
  }
  if (result.stdout_closed) {
    return 0;  // `| head`: not an error
  }
  if (find_report(result, "missing")) {
    throw_job_missing(options.vm, options.id);
  }
  const auto state = find_report(result, "state");
  if (!state || state->empty()) {
    throw Error(ErrorClass::Internal, "could not read the log of job '" + options.id + "' (exit " +
                                          std::to_string(result.exit_code) + ")");
  }
  if (!options.follow) {
    return 0;
  }
  const std::string& name = state->front();
  if ((name == "exited" || name == "killed") && state->size() > 1) {
    return std::stoi((*state)[1]);
  }
  throw Error(ErrorClass::Internal, "job '" + options.id + "' " + describe_job_state(*state));
}

}  // namespace boxd::cli
