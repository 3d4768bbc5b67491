#include <csignal>
#include <cstring>

#include "boxd/box/job_client.hpp"
#include "boxd/box/job_scripts.hpp"
#include "boxd/box/jobs.hpp"
#include "boxd/command.hpp"
#include "common/error.hpp"

namespace boxd::cli {

CLI::App* define_box_jobs_kill(CLI::App& parent, JobsKillOptions& options) {
  CLI::App* cmd = parent.add_subcommand(
      "kill", "End a running job: signal its whole process group, SIGKILL after the grace period");
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->add_option("ID", options.id, "Job id")->required();
  cmd->add_option("-s,--signal", options.signal, "Signal to send first (name or number)")
      ->type_name("SIG");
  cmd->add_option("--grace", options.grace_secs, "Seconds to wait before SIGKILL")
      ->type_name("S")
      ->check(CLI::Range(0u, 3600u));
  cmd->footer(
      "Exit status: 0 once every process of the job is gone (its status is recorded:\n"
      "128+N for signal N); 4 when the box or the job does not exist; 5 when the job\n"
      "is not running any more.\n"
      "\n"
      "Examples:\n"
      "  boxd box jobs kill web 3f9c01ab\n"
      "  boxd box jobs kill web 3f9c01ab --signal INT --grace 30");
  return cmd;
}

void add_box_jobs_kill(CLI::App& jobs, Context& ctx) {
  add_leaf<JobsKillOptions>(jobs, ctx, define_box_jobs_kill, run_jobs_kill);
}

std::string normalize_signal(const std::string& text) {
  std::string name;
  for (const char c : text) {
    name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (name.starts_with("SIG")) {
    name.erase(0, 3);
  }
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
    const int n = name.size() <= 3 ? std::stoi(name) : 0;
    const char* abbrev = (n > 0 && n < NSIG) ? sigabbrev_np(n) : nullptr;
    if (abbrev == nullptr) {
      throw Error(ErrorClass::Usage, "unknown signal '" + text + "'");
    }
    return abbrev;
  }
  for (int n = 1; n < NSIG; ++n) {
    const char* abbrev = sigabbrev_np(n);
    if (abbrev != nullptr && name == abbrev) {
      return name;
    }
  }
  throw Error(ErrorClass::Usage, "unknown signal '" + text + "'",
              "use a name such as TERM, INT, HUP, KILL");
}

int run_jobs_kill(const JobsKillOptions& options, Context& ctx) {
  check_job_id(options.id);
  const std::string signal = normalize_signal(options.signal);
  const JobScriptResult result =
      run_job_script(ctx, options.vm, job_kill_script(options.id, signal, options.grace_secs));
  if (result.interrupted_by != 0) {
    return 128 + result.interrupted_by;
  }
  if (find_report(result, "missing")) {
    throw_job_missing(options.vm, options.id);
  }
  if (const auto state = find_report(result, "state")) {
    throw Error(ErrorClass::InvalidArgument,
                "job '" + options.id + "' is not running: it " + describe_job_state(*state));
  }
  const auto killed = find_report(result, "killed");
  if (!killed || killed->empty()) {
    throw Error(ErrorClass::Internal, "could not kill job '" + options.id + "' (exit " +
                                          std::to_string(result.exit_code) + ")");
  }
  if (!ctx.global.quiet) {
    ctx.err << "Killed job " << options.id << " in box '" << options.vm << "' (status "
            << killed->front() << (killed->size() > 1 ? ", after SIGKILL" : "") << ")\n";
  }
  return 0;
}

}  // namespace boxd::cli
