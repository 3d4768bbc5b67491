// `boxd box jobs VM` (list), `box jobs logs VM ID`, `box jobs kill VM ID`,
// `box jobs rm VM ID...`:
// the detached jobs `box exec --detach` started (job_scripts.hpp).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct JobsListOptions {
  std::string vm;
  bool json = false;
  bool quiet = false;
};

struct JobsLogsOptions {
  std::string vm;
  std::string id;
  bool follow = false;
};

struct JobsKillOptions {
  std::string vm;
  std::string id;
  std::string signal = "TERM";
  unsigned grace_secs = 10;
};

struct JobsRmOptions {
  std::string vm;
  std::vector<std::string> ids;
  bool ended = false;
};

CLI::App* define_box_jobs(CLI::App& parent, JobsListOptions& options);
CLI::App* define_box_jobs_rm(CLI::App& parent, JobsRmOptions& options);
CLI::App* define_box_jobs_logs(CLI::App& parent, JobsLogsOptions& options);
CLI::App* define_box_jobs_kill(CLI::App& parent, JobsKillOptions& options);
// The group (which lists when given a VM) and its two commands.
void add_box_jobs(CLI::App& parent, Context& ctx);
void add_box_jobs_logs(CLI::App& jobs, Context& ctx);
void add_box_jobs_kill(CLI::App& jobs, Context& ctx);
void add_box_jobs_rm(CLI::App& jobs, Context& ctx);

// Exit 0; NotFound when the box does not exist.
int run_jobs_list(const JobsListOptions& options, Context& ctx);
// Without -f: 0 once the log is printed. With -f: the job's own exit
// status once it ended; 1 when it ended without one (box restarted).
int run_jobs_logs(const JobsLogsOptions& options, Context& ctx);
// 0 once the job is gone; 5 (InvalidArgument) when it was not running.
int run_jobs_kill(const JobsKillOptions& options, Context& ctx);
// 0 when every job named is gone; 4 for an unknown id, 5 for a running job.
int run_jobs_rm(const JobsRmOptions& options, Context& ctx);

// "TERM", "SIGTERM", "term" or "15" -> "TERM"; usage error otherwise.
std::string normalize_signal(const std::string& text);

}  // namespace boxd::cli
