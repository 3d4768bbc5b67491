// The shell scripts behind detached jobs (`box exec --detach`, `box jobs`).
//
// Everything happens through the public Exec call: each command sends one
// of these scripts as its command string, so jobs work against any boxd
// server (the cloud or `boxd local`) with no extra RPC, and their state
// lives in the box, where any machine can list it. The scripts use only
// POSIX sh and coreutils (plus util-linux `setsid` when the box has it, as
// every Ubuntu image does), so they run on a stock image.
//
// A job is a directory, $HOME/.boxd/jobs/<id>/ (mode 0700):
//   cmd      the command string, as `box exec` would have sent it
//   title    the command on one line, for listings
//   run      the supervisor script (below)
//   pid      the supervisor's pid; it leads the job's own session and
//            process group, so one kill(-pid) reaches the whole job
//   pid.start  its start time (/proc/PID/stat), so a pid recycled after
//            a reboot is not taken for the job
//   started  unix seconds, written once the supervisor runs: a directory
//            without it is a job being started, which no command shows
//   ended    unix seconds, once it ended
//   log      stdout and stderr of the command, interleaved as written
//   exit     its exit status (128+N when killed by signal N), written
//            atomically (rename) after the command ended
//   killed   present when `box jobs kill` ended it
//
// Why it survives the end of the exec stream: the launch script starts the
// supervisor with `setsid` (falling back to `nohup` where setsid is missing)
// with stdin, stdout and stderr on /dev/null or the log, then returns. The
// server only kills the process group of an exec whose command is still
// running when the stream ends (boxd local: exec_relay.cpp kills the group of
// a cancelled call), and no pipe of the exec stays open, so the stream ends
// at once and the job, in its own session, is not part of what is killed.
// The supervisor (`run`) runs the command as its child, waits for it (a
// TERM, INT or HUP it receives interrupts the wait, then it waits again, so
// the status recorded is the command's own) and records `ended` and `exit`.
//
// The scripts report to the CLI on stderr with lines starting "boxd-job: "
// (the job's own output only ever goes to its log); the CLI turns them into
// messages and exit codes (job_client.cpp).
#pragma once

#include <string>
#include <vector>

namespace boxd::cli {

// Whether `id` is a well-formed job id (letters, digits, '-' and '_', at
// most 64): ids are typed by users and put into scripts, quoted as well.
bool valid_job_id(const std::string& id);
// A fresh random id: 8 hex digits.
std::string new_job_id();

// Creates the job directory (fails with "boxd-job: taken" when it exists),
// starts the supervisor detached and waits until it wrote its pid; prints
// "boxd-job: started PID".
std::string job_launch_script(const std::string& id, const std::string& command,
                              const std::string& title);
// One tab-separated line per job: id, state (running, exited, killed, lost),
// exit status, pid, started, ended, title (empty fields when unknown).
std::string job_list_script();
// The log; with follow, new output until the job ends. Then
// "boxd-job: state STATE [EXIT]"; "boxd-job: missing" when no such job.
std::string job_logs_script(const std::string& id, bool follow);
// Sends `signal` (a name such as TERM) to the job's process group, waits up
// to grace_secs for the group to end, then SIGKILL. Prints "boxd-job: killed
// EXIT [forced]", or "boxd-job: missing", "boxd-job: state STATE [EXIT]" when
// the job is not running.
std::string job_kill_script(const std::string& id, const std::string& signal, unsigned grace_secs);
// Removes the directories of jobs that are not running: the given ids
// ("boxd-job: removed|missing|running ID" for each), or with no ids every
// job that ended ("removed ID" for each).
std::string job_remove_script(const std::vector<std::string>& ids);

}  // namespace boxd::cli
