// Runs the job scripts (job_scripts.hpp) in a box through Exec and reads
// back what they report: the "boxd-job: ..." lines on stderr, kept apart
// from anything else the script or the box printed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "boxd/context.hpp"

namespace boxd::cli {

struct JobScriptResult {
  int exit_code = 0;
  int interrupted_by = 0;            // SIGINT/SIGTERM: the call was cancelled
  bool stdout_closed = false;        // streaming into a closed pipe (`| head`): cancelled
  std::string out;                   // stdout (collected runs only)
  std::vector<std::string> reports;  // "boxd-job: " lines, without the prefix
};

// stream: stdout goes straight to fd 1 as it comes (jobs logs); else it is
// collected. Stderr other than reports goes to fd 2 either way.
JobScriptResult run_job_script(Context& ctx, const std::string& vm, const std::string& script,
                               bool stream = false);

// The first report that starts with `word` (its remaining words), if any.
std::optional<std::vector<std::string>> find_report(const JobScriptResult& result,
                                                    const std::string& word);

// One job as `box jobs` lists it.
struct JobInfo {
  std::string id;
  std::string state;  // running, exited, killed, lost
  std::optional<int> exit_code;
  std::optional<std::int64_t> pid;
  std::int64_t started = 0;  // unix seconds
  std::optional<std::int64_t> ended;
  std::string command;
};

// Parses the list script's tab-separated lines (oldest first); malformed lines are skipped.
std::vector<JobInfo> parse_job_list(const std::string& text);

// The errors every job command shares: "job 'ID' not found in box 'VM'"
// (NotFound) for "missing", and a usage error for a malformed id.
void check_job_id(const std::string& id);
[[noreturn]] void throw_job_missing(const std::string& vm, const std::string& id);
// The report `state STATE [EXIT]` as a sentence: "exited with status 3".
std::string describe_job_state(const std::vector<std::string>& words);

}  // namespace boxd::cli
