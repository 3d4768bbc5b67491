#include "boxd/box/jobs.hpp"

#include <memory>

#include "boxd/box/job_client.hpp"
#include "boxd/box/job_scripts.hpp"
#include "boxd/output.hpp"
#include "common/error.hpp"

namespace boxd::cli {

CLI::App* define_box_jobs(CLI::App& parent, JobsListOptions& options) {
  CLI::App* cmd = parent.add_subcommand("jobs",
                                        "List a box's detached jobs (started by 'box exec "
                                        "--detach'); show their logs, kill, remove them");
  cmd->add_option("VM", options.vm, "Box name or id");
  cmd->footer(
      "Jobs live in the box (under ~/.boxd/jobs), so any machine lists the same jobs.\n"
      "States: running, exited, killed, lost (ended without a status: the box was\n"
      "stopped or restarted). --json prints [{\"id\",\"state\",\"exit_code\",\"pid\",\n"
      "\"started_at\",\"ended_at\",\"command\"}] (unix seconds; null when not known yet).\n"
      "\n"
      "Examples:\n"
      "  id=$(boxd box exec --detach web -- ./build.sh)\n"
      "  boxd box jobs web\n"
      "  boxd box jobs logs web \"$id\" -f\n"
      "  boxd box jobs kill web \"$id\"\n"
      "  boxd box jobs rm web --ended\n"
      "  boxd box jobs web --json | jq -r '.[] | select(.state == \"running\") | .id'");
  return cmd;
}

void add_box_jobs(CLI::App& parent, Context& ctx) {
  auto options = std::make_shared<JobsListOptions>();
  CLI::App* jobs = define_box_jobs(parent, *options);
  // The group lists only when none of its commands was given (CLI11 runs
  // this callback after theirs).
  jobs->callback([options, jobs, &ctx] {
    if (!jobs->get_subcommands().empty()) {
      return;
    }
    options->json = options->json || ctx.global.json;
    options->quiet = options->quiet || ctx.global.quiet;
    ctx.action = [options, &ctx] { return run_jobs_list(*options, ctx); };
  });
  add_box_jobs_logs(*jobs, ctx);
  add_box_jobs_kill(*jobs, ctx);
  add_box_jobs_rm(*jobs, ctx);
}

namespace {

nlohmann::json optional_json(const auto& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json jobs_json(const std::vector<JobInfo>& jobs) {
  nlohmann::json json = nlohmann::json::array();
  for (const auto& job : jobs) {
    json.push_back({{"id", job.id},
                    {"state", job.state},
                    {"exit_code", optional_json(job.exit_code)},
                    {"pid", optional_json(job.pid)},
                    {"started_at", job.started},
                    {"ended_at", optional_json(job.ended)},
                    {"command", job.command}});
  }
  return json;
}

Table jobs_table(const std::vector<JobInfo>& jobs, bool human, std::int64_t now) {
  Table table;
  table.columns = {"id", "state", "exit", "started", "command"};
  table.status_column = 1;
  for (const auto& job : jobs) {
    table.rows.push_back({job.id, job.state, job.exit_code ? std::to_string(*job.exit_code) : "",
                          format_timestamp(job.started, human, now), job.command});
  }
  return table;
}

}  // namespace

int run_jobs_list(const JobsListOptions& options, Context& ctx) {
  if (options.vm.empty()) {
    throw Error(ErrorClass::Usage, "box jobs needs a VM", "boxd box jobs VM");
  }
  const JobScriptResult result = run_job_script(ctx, options.vm, job_list_script());
  if (result.interrupted_by != 0) {
    return 128 + result.interrupted_by;
  }
  if (result.exit_code != 0) {
    throw Error(ErrorClass::Internal, "could not list the jobs of box '" + options.vm + "' (exit " +
                                          std::to_string(result.exit_code) + ")");
  }
  const std::vector<JobInfo> jobs = parse_job_list(result.out);
  print_list(ctx, jobs_table(jobs, ctx.stdout_tty, now_unix_seconds()), jobs_json(jobs));
  return 0;
}

}  // namespace boxd::cli
