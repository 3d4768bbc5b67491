// Detached jobs and box wait, without a server: argv -> options, the parser
// of the list script's output, and the job scripts themselves run by the
// real dash and bash on this machine against a temp HOME.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/box/exec.hpp"
#include "boxd/box/job_client.hpp"
#include "boxd/box/job_scripts.hpp"
#include "boxd/box/jobs.hpp"
#include "boxd/box/wait.hpp"
#include "common/error.hpp"

using namespace boxd::cli;
namespace fs = std::filesystem;

namespace {

template <class Options>
Options parse(CLI::App* (*define)(CLI::App&, Options&), std::vector<std::string> args) {
  CLI::App app;
  Options options;
  define(app, options);
  std::vector<const char*> argv = {"boxd"};
  for (const auto& arg : args) {
    argv.push_back(arg.c_str());
  }
  app.parse(static_cast<int>(argv.size()), argv.data());
  return options;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `script` with `shell` and HOME=home; returns the exit status, with stdout/stderr.
int run_script(const std::string& shell, const fs::path& home, const std::string& script,
               std::string& out, std::string& err) {
  const fs::path file = home / "script.sh";
  std::ofstream(file) << script;
  const std::string command = "HOME='" + home.string() + "' " + shell + " '" + file.string() +
                              "' >'" + (home / "out").string() + "' 2>'" + (home / "err").string() +
                              "'";
  const int status = std::system(command.c_str());
  out = read_text(home / "out");
  err = read_text(home / "err");
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("box wait: --for and --timeout") {
  const auto o = parse(define_box_wait, {"wait", "web", "--for", "stopped", "--timeout", "2.5"});
  CHECK(o.vm == "web");
  CHECK(o.target == "stopped");
  CHECK(o.timeout_secs == doctest::Approx(2.5));
  CHECK(parse(define_box_wait, {"wait", "web"}).target == "ready");
  CHECK_THROWS_AS(parse(define_box_wait, {"wait", "web", "--for", "asleep"}), CLI::ValidationError);
  CHECK_THROWS_AS(parse(define_box_wait, {"wait", "web", "--timeout", "-1"}), CLI::ValidationError);
}

TEST_CASE("box exec --detach and box jobs kill parse") {
  CHECK(parse(define_box_exec, {"exec", "--detach", "web"}).detach);
  CHECK(parse(define_box_exec, {"exec", "-d", "web"}).detach);
  const auto k = parse(define_box_jobs_kill, {"kill", "web", "ab12", "-s", "INT", "--grace", "3"});
  CHECK(k.vm == "web");
  CHECK(k.id == "ab12");
  CHECK(k.signal == "INT");
  CHECK(k.grace_secs == 3);
  CHECK(parse(define_box_jobs_logs, {"logs", "web", "ab12", "-f"}).follow);
}

TEST_CASE("job ids and signals") {
  CHECK(valid_job_id("3f9c01ab"));
  CHECK(valid_job_id("build_1-a"));
  CHECK_FALSE(valid_job_id(""));
  CHECK_FALSE(valid_job_id("../x"));
  CHECK_FALSE(valid_job_id("a b"));
  CHECK_FALSE(valid_job_id("$(reboot)"));
  CHECK_FALSE(valid_job_id(std::string(65, 'a')));
  const std::string id = new_job_id();
  CHECK(id.size() == 8);
  CHECK(valid_job_id(id));
  CHECK(normalize_signal("TERM") == "TERM");
  CHECK(normalize_signal("sigint") == "INT");
  CHECK(normalize_signal("9") == "KILL");
  CHECK_THROWS_AS(normalize_signal("NOPE"), boxd::Error);
  CHECK_THROWS_AS(normalize_signal("0"), boxd::Error);
  CHECK_THROWS_AS(normalize_signal("99999999999"), boxd::Error);
}

TEST_CASE("the list script's lines become jobs, oldest first; junk is skipped") {
  const auto jobs = parse_job_list(
      "b2\texited\t3\t41\t200\t205\techo 'a\tb'\n"
      "a1\trunning\t\t40\t100\t\tsleep 9\n"
      "bad id\trunning\t\t1\t1\t\tx\n"
      "short\tline\n");
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0].id == "a1");
  CHECK(jobs[0].state == "running");
  CHECK_FALSE(jobs[0].exit_code.has_value());
  CHECK_FALSE(jobs[0].ended.has_value());
  CHECK(jobs[0].pid == std::optional<std::int64_t>(40));
  CHECK(jobs[1].exit_code == std::optional<int>(3));
  CHECK(jobs[1].ended == std::optional<std::int64_t>(205));
  CHECK(jobs[1].command == "echo 'a\tb'");  // the last field keeps its tabs
}

TEST_CASE("the job scripts run under dash and bash: launch, list, logs, kill") {
  for (const std::string shell : {"/bin/sh", "/bin/bash"}) {
    if (access(shell.c_str(), X_OK) != 0) {
      continue;
    }
    CAPTURE(shell);
    const fs::path home =
        fs::temp_directory_path() / ("boxd-jobs-test-" + std::to_string(getpid()));
    fs::remove_all(home);
    fs::create_directories(home);
    std::string out, err;
    REQUIRE(run_script(shell, home, job_launch_script("j1", "echo hi; exit 4", "echo hi"), out,
                       err) == 0);
    CHECK(err.starts_with("boxd-job: started "));
    CHECK(run_script(shell, home, job_launch_script("j1", "true", "true"), out, err) == 1);
    CHECK(err == "boxd-job: taken\n");
    CHECK(run_script(shell, home, job_logs_script("j1", true), out, err) == 0);
    CHECK(out == "hi\n");
    CHECK(err == "boxd-job: state exited 4\n");
    REQUIRE(run_script(shell, home, job_launch_script("j2", "sleep 60", "sleep 60"), out, err) ==
            0);
    REQUIRE(run_script(shell, home, job_list_script(), out, err) == 0);
    const auto jobs = parse_job_list(out);
    REQUIRE(jobs.size() == 2);
    CHECK(jobs[0].state == "exited");
    CHECK(jobs[1].state == "running");
    CHECK(run_script(shell, home, job_kill_script("j2", "TERM", 5), out, err) == 0);
    CHECK(err == "boxd-job: killed 143 \n");
    CHECK(run_script(shell, home, job_kill_script("j2", "TERM", 5), out, err) == 1);
    CHECK(err == "boxd-job: state killed 143\n");
    CHECK(run_script(shell, home, job_logs_script("nope", false), out, err) == 1);
    CHECK(err == "boxd-job: missing\n");
    REQUIRE(run_script(shell, home, job_launch_script("j3", "sleep 60", "sleep 60"), out, err) ==
            0);
    CHECK(run_script(shell, home, job_remove_script({"j1", "j3", "nope"}), out, err) == 0);
    CHECK(err == "boxd-job: removed j1\nboxd-job: running j3\nboxd-job: missing nope\n");
    CHECK(run_script(shell, home, job_remove_script({}), out, err) == 0);
    CHECK(err == "boxd-job: removed j2\n");
    CHECK(fs::exists(home / ".boxd/jobs/j3"));
    CHECK(run_script(shell, home, job_kill_script("j3", "KILL", 1), out, err) == 0);
    CHECK(err == "boxd-job: killed 137 \n");
    fs::remove_all(home);
  }
}
