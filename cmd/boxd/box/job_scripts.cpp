#include "boxd/box/job_scripts.hpp"

#include <random>

#include <fmt/format.h>

#include "common/shell_quote.hpp"

namespace boxd::cli {

namespace {

// Shared by every script: where jobs live, whether a job's supervisor is
// still alive, whether anything of the job is left, and a job's state.
// Mostly builtins (read, set, case): listing many jobs forks little.
constexpr const char* k_prelude = R"SH(J="${HOME:-/home/boxd}/.boxd/jobs"
# Reads the first line of file $2 into variable $1 (builtins only: no fork).
get() { { IFS= read -r "$1" <"$2"; } 2>/dev/null; }
# The start time (field 22 of /proc/PID/stat) and state of process $1: t, z.
proc() {
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
  set -- ${line##*) }
  z=$1 t=${20}
}
# Whether job $1's supervisor runs: its pid with the start time it recorded
# (a pid recycled after a reboot has another one). Builtins only.
alive() {
  get p "$1/pid" && get pt "$1/pid.start" && proc "$p" || return 1
  [ "$t" = "$pt" ] && [ "$z" != Z ]
}
ended() {
  get code "$1/exit" || return 1
  if [ -f "$1/killed" ]; then st=killed; else st=exited; fi
}
# Something of the job is left: a live (not zombie) member of its process
# group $p, or the supervisor of job $d. Zombies do not count: a box's init
# reaps them, but not every PID 1 does so at once.
left() {
  for s in /proc/[0-9]*/stat; do
    { read -r line <"$s"; } 2>/dev/null || continue
    set -- ${line##*) }
    [ "$3" = "$p" ] && [ "$1" != Z ] && return 0
  done
  alive "$d"
}
# st: running, exited, killed or lost; code: the exit status once ended.
state() {
  code=
  ended "$1" && return 0
  if alive "$1"; then st=running; return 0; fi
  ended "$1" || st=lost
}
)SH";

// The supervisor: leads the job's session, runs the command, records how it ended.
constexpr const char* k_supervisor = R"SH(d="$1"
trap : TERM INT HUP
read -r line </proc/$$/stat
set -- ${line##*) }
echo "${20}" >"$d/pid.start"
echo $$ >"$d/pid.tmp" && mv -f "$d/pid.tmp" "$d/pid"
sh "$d/cmd" </dev/null >>"$d/log" 2>&1 &
c=$!
while :; do
  wait "$c"
  s=$?
  kill -0 "$c" 2>/dev/null || break
done
date +%s >"$d/ended"
echo "$s" >"$d/exit.tmp" && mv -f "$d/exit.tmp" "$d/exit"
)SH";

std::string job_dir_line(const std::string& id) {
  return "d=\"$J\"/" + shell_quote(id) + "\n";
}

constexpr const char* k_require_job =
    "[ -f \"$d/started\" ] || { echo 'boxd-job: missing' >&2; exit 1; }\n";

}  // namespace

bool valid_job_id(const std::string& id) {
  if (id.empty() || id.size() > 64) {
    return false;
  }
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string new_job_id() {
  std::random_device device;
  return fmt::format("{:08x}", device());
}

std::string job_launch_script(const std::string& id, const std::string& command,
                              const std::string& title) {
  std::string s = k_prelude;
  s += "umask 077\nmkdir -p \"$J\" || exit 1\n" + job_dir_line(id);
  s += "mkdir \"$d\" 2>/dev/null || { echo 'boxd-job: taken' >&2; exit 1; }\n";
  s += "printf '%s\\n' " + shell_quote(command) + " >\"$d/cmd\"\n";
  s += "printf '%s\\n' " + shell_quote(title) + " >\"$d/title\"\n";
  s += ": >\"$d/log\"\n";
  s += std::string("cat >\"$d/run\" <<'BOXD_JOB_RUN'\n") + k_supervisor + "BOXD_JOB_RUN\n";
  s += R"SH(if command -v setsid >/dev/null 2>&1; then
  setsid sh "$d/run" "$d" </dev/null >/dev/null 2>&1 &
else
  nohup sh "$d/run" "$d" </dev/null >/dev/null 2>&1 &
fi
i=0
while [ ! -s "$d/pid" ]; do
  i=$((i + 1))
  [ "$i" -le 200 ] || { echo 'boxd-job: not started' >&2; exit 1; }
  sleep 0.05
done
date +%s >"$d/started"
echo "boxd-job: started $(cat "$d/pid")" >&2
)SH";
  return s;
}

std::string job_list_script() {
  std::string s = k_prelude;
  s += R"SH([ -d "$J" ] || exit 0
for d in "$J"/*; do
  [ -f "$d/started" ] || continue
  state "$d"
  pid= started= end= title=
  get pid "$d/pid"; get started "$d/started"; get end "$d/ended"; get title "$d/title"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${d##*/}" "$st" "$code" "$pid" "$started" "$end" "$title"
done
)SH";
  return s;
}

std::string job_logs_script(const std::string& id, bool follow) {
  std::string s = k_prelude + job_dir_line(id) + k_require_job;
  if (follow) {
    s += R"SH(if alive "$d"; then
  tail -n +1 -s 0.2 -f --pid="$p" "$d/log"
  i=0
  while [ ! -f "$d/exit" ] && [ "$i" -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
else
  cat "$d/log"
fi
)SH";
  } else {
    s += "cat \"$d/log\"\n";
  }
  s += "state \"$d\"\necho \"boxd-job: state $st $code\" >&2\n";
  return s;
}

std::string job_kill_script(const std::string& id, const std::string& signal, unsigned grace_secs) {
  std::string s = k_prelude + job_dir_line(id) + k_require_job;
  s += R"SH(state "$d"
[ "$st" = running ] || { echo "boxd-job: state $st $code" >&2; exit 1; }
: >"$d/killed"
)SH";
  s += fmt::format("kill -{0} \"-$p\" 2>/dev/null || kill -{0} \"$p\"\n", signal);
  s += fmt::format("n=0\nwhile left && [ \"$n\" -lt {} ]; do\n", grace_secs * 10);
  s += R"SH(  sleep 0.1; n=$((n + 1))
done
forced=
if left; then
  forced=forced
  kill -KILL "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null
  n=0
  while left && [ "$n" -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
fi
if [ ! -f "$d/exit" ]; then
  date +%s >"$d/ended"
  echo 137 >"$d/exit.kill" && mv -f "$d/exit.kill" "$d/exit"
fi
get code "$d/exit"
echo "boxd-job: killed $code $forced" >&2
)SH";
  return s;
}

std::string job_remove_script(const std::vector<std::string>& ids) {
  std::string s = k_prelude;
  s += R"SH(remove() {
  state "$1"
  if [ "$st" = running ]; then
    [ -n "$2" ] && echo "boxd-job: running ${1##*/}" >&2
    return 0
  fi
  rm -rf "$1" && echo "boxd-job: removed ${1##*/}" >&2
}
)SH";
  if (ids.empty()) {
    s += "for d in \"$J\"/*; do [ -f \"$d/started\" ] && remove \"$d\" \"\"; done\n";
    return s + "exit 0\n";
  }
  for (const auto& id : ids) {
    s += job_dir_line(id);
    s += "if [ -f \"$d/started\" ]; then remove \"$d\" named; else echo \"boxd-job: missing " + id +
         "\" >&2; fi\n";
  }
  return s;
}

}  // namespace boxd::cli
