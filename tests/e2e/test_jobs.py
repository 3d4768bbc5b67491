"""Detached jobs: box exec --detach, box jobs (list, logs, kill) (issue 13).

Jobs are started through Exec alone, live in the box (~/.boxd/jobs), and
must outlive the exec stream and the CLI that started them."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, eventually, expect, expect_equal, host_pids_with_argv  # noqa: E402

suite = Suite(__file__)


def detach(cli, vm, *command, flags=()):
    result = cli.run("box", "exec", "--detach", *flags, vm, "--", *command).expect_ok()
    job = result.stdout.strip()
    expect(job and "\n" not in job, result.describe("--detach must print one job id"))
    return job


def job_doc(cli, vm, job):
    jobs = cli.run("box", "jobs", vm, "--json").expect_ok().json()
    mine = [j for j in jobs if j.get("id") == job]
    expect_equal(len(mine), 1, f"entries for job {job} in box jobs --json")
    return mine[0]


@suite.test
def detached_job_outlives_the_cli_and_logs_follow_to_its_status(t):
    vm = t.alice.create_box(t.box_name("detach"))
    started = time.monotonic()
    job = detach(t.alice, vm, "sleep 2; echo done; exit 3")
    returned_after = time.monotonic() - started
    if returned_after < 1.5:
        # The CLI is gone and the job has not printed yet: it runs on its own.
        expect_equal(job_doc(t.alice, vm, job).get("state"), "running", "state right after --detach")
    follow = t.alice.run("box", "jobs", "logs", vm, job, "-f")
    follow.expect_exit(3).expect_stdout("done\n")
    doc = job_doc(t.alice, vm, job)
    expect_equal(doc.get("state"), "exited", "state once ended")
    expect_equal(doc.get("exit_code"), 3, "recorded exit status")
    expect(doc["ended_at"] - doc["started_at"] >= 1, f"the job did not run its 2 s: {doc!r}")
    # Without -f: the log, exit 0; -f on an ended job: the log and its status.
    t.alice.run("box", "jobs", "logs", vm, job).expect_exit(0).expect_stdout("done\n")
    t.alice.run("box", "jobs", "logs", vm, job, "--follow").expect_exit(3).expect_stdout("done\n")


@suite.test
def jobs_are_listed_from_another_machine(t):
    vm = t.alice.create_box(t.box_name("shared"))
    job = detach(t.alice, vm, "echo", "hello world")
    other = t.cli("alice")  # fresh config, cache and home: another laptop
    expect(other.config_dir != t.alice.config_dir, "the second CLI shares the config dir")
    eventually(lambda: job_doc(other, vm, job).get("state") == "exited", what="job exited")
    doc = job_doc(other, vm, job)
    expect_equal(doc.get("command"), "echo 'hello world'", "command as listed")
    other.run("box", "jobs", "logs", vm, job).expect_ok().expect_stdout("hello world\n")
    piped = other.run("box", "jobs", vm).expect_ok()
    rows = [line.split("\t") for line in piped.lines()]
    expect([job, "exited", "0"] in [r[:3] for r in rows],
           piped.describe("no tab-separated row 'ID exited 0'"))
    other.run("box", "jobs", vm, "-q").expect_ok().expect_stdout(job + "\n")


@suite.test
def kill_ends_every_process_of_the_job(t):
    vm = t.alice.create_box(t.box_name("kill"))
    job = detach(t.alice, vm, "sleep 3171 & sleep 3172; wait")
    eventually(lambda: host_pids_with_argv(["sleep", "3171"]) and
               host_pids_with_argv(["sleep", "3172"]), what="the job's processes run")
    t.alice.run("box", "jobs", "kill", vm, job).expect_ok().expect_stderr_contains("status 143")
    expect_equal(host_pids_with_argv(["sleep", "3171"]), [], "background child after kill")
    expect_equal(host_pids_with_argv(["sleep", "3172"]), [], "foreground child after kill")
    doc = job_doc(t.alice, vm, job)
    expect_equal(doc.get("state"), "killed", "state")
    expect_equal(doc.get("exit_code"), 143, "status of a SIGTERMed job")
    again = t.alice.run("box", "jobs", "kill", vm, job)
    again.expect_exit(5).expect_error_line(f"job '{job}' is not running: it was killed (status 143)")


@suite.test
def kill_escalates_to_sigkill_after_the_grace_period(t):
    vm = t.alice.create_box(t.box_name("stubborn"))
    job = detach(t.alice, vm, "trap '' TERM; sleep 3173; echo never")
    eventually(lambda: host_pids_with_argv(["sleep", "3173"]), what="the job runs")
    started = time.monotonic()
    killed = t.alice.run("box", "jobs", "kill", vm, job, "--grace", "1", "--signal", "SIGTERM")
    killed.expect_ok().expect_stderr_contains("after SIGKILL")
    expect(time.monotonic() - started >= 1, killed.describe("SIGKILL came before the grace period"))
    expect_equal(host_pids_with_argv(["sleep", "3173"]), [], "processes after SIGKILL")
    doc = job_doc(t.alice, vm, job)
    expect_equal((doc.get("state"), doc.get("exit_code")), ("killed", 137), "state, status")
    t.alice.run("box", "jobs", "logs", vm, job, "-f").expect_exit(137).expect_stdout("")


@suite.test
def unknown_or_malformed_job_ids(t):
    vm = t.alice.create_box(t.box_name("noid"))
    for args in (("logs", vm, "deadbeef"), ("logs", vm, "deadbeef", "-f"), ("kill", vm, "deadbeef")):
        t.alice.run("box", "jobs", *args).expect_exit(4).expect_error_line(
            f"job 'deadbeef' not found in box '{vm}'")
    t.alice.run("box", "jobs", "logs", vm, "../x").expect_exit(2).expect_error_line(
        "invalid job id '../x'")
    t.alice.run("box", "jobs", "kill", vm, "x", "--signal", "NOPE").expect_exit(2)
    t.alice.run("box", "jobs", "no-such-box").expect_exit(4).expect_error_line(
        "VM 'no-such-box' not found")
    t.alice.run("box", "exec", "--detach", "no-such-box", "--", "true").expect_exit(4)
    t.alice.run("box", "jobs").expect_exit(2)
    # A box without jobs lists nothing (and --json an empty array).
    expect_equal(t.alice.run("box", "jobs", vm, "--json").expect_ok().json(), [], "no jobs")


@suite.test
def json_shapes(t):
    vm = t.alice.create_box(t.box_name("json"))
    started = t.alice.run("box", "exec", "--detach", "--json", vm, "--", "sleep 30").expect_ok().json()
    expect_equal(sorted(started), ["command", "id", "pid", "vm"], "exec --detach --json keys")
    expect(isinstance(started["pid"], int) and started["pid"] > 0, f"pid: {started!r}")
    expect_equal(started["vm"], vm, "vm")
    doc = job_doc(t.alice, vm, started["id"])
    expect_equal(sorted(doc), ["command", "ended_at", "exit_code", "id", "pid", "started_at", "state"],
                 "jobs --json keys")
    expect_equal((doc["state"], doc["exit_code"], doc["ended_at"]), ("running", None, None),
                 "a running job")
    expect_equal(doc["pid"], started["pid"], "pid")
    expect(abs(doc["started_at"] - time.time()) < 120, f"started_at is unix seconds: {doc!r}")
    t.alice.run("box", "jobs", "kill", vm, started["id"]).expect_ok()
    doc = job_doc(t.alice, vm, started["id"])
    expect(isinstance(doc["ended_at"], int) and doc["exit_code"] == 143, f"killed job: {doc!r}")


@suite.test
def env_workdir_and_stderr_reach_the_job(t):
    vm = t.alice.create_box(t.box_name("env"))
    job = detach(t.alice, vm, "echo $X; pwd; echo oops >&2", flags=("-e", "X=42", "-w", "/tmp"))
    t.alice.run("box", "jobs", "logs", vm, job, "-f").expect_exit(0).expect_stdout(
        "42\n/tmp\noops\n")
    t.alice.run("box", "exec", "--detach", "--timeout", "5", vm, "--", "true").expect_exit(2)
    t.alice.run("box", "exec", "--detach", vm).expect_exit(2)


@suite.test
def a_job_the_box_lost_is_reported(t):
    vm = t.alice.create_box(t.box_name("lost"))
    job = detach(t.alice, vm, "sleep 3174")
    t.alice.run("box", "stop", vm).expect_ok()
    t.alice.run("box", "start", vm).expect_ok()
    expect_equal(job_doc(t.alice, vm, job).get("state"), "lost", "state after a restart")
    t.alice.run("box", "jobs", "logs", vm, job, "-f").expect_exit(1).expect_stderr_contains(
        "ended without recording its status")
    t.alice.run("box", "jobs", "kill", vm, job).expect_exit(5)


@suite.test
def rm_removes_only_jobs_that_ended(t):
    vm = t.alice.create_box(t.box_name("rm"))
    done = detach(t.alice, vm, "true")
    running = detach(t.alice, vm, "sleep 300")
    eventually(lambda: job_doc(t.alice, vm, done).get("state") == "exited", what="job ended")
    t.alice.run("box", "jobs", "rm", vm, running).expect_exit(5).expect_error_line(
        f"job '{running}' is running")
    t.alice.run("box", "jobs", "rm", vm, "--ended").expect_ok().expect_stderr_contains(
        f"Removed job {done}")
    ids = [j["id"] for j in t.alice.run("box", "jobs", vm, "--json").expect_ok().json()]
    expect_equal(ids, [running], "jobs left after rm --ended")
    expect_equal(t.alice.sh(vm, f"test -d ~/.boxd/jobs/{done} && echo left || echo gone"), "gone\n",
                 "the ended job's directory")
    t.alice.run("box", "jobs", "kill", vm, running).expect_ok()
    t.alice.run("box", "jobs", "rm", vm, running).expect_ok()
    t.alice.run("box", "jobs", "rm", vm, running).expect_exit(4)
    t.alice.run("box", "jobs", "rm", vm).expect_exit(2)


@suite.test
def ctrl_c_on_logs_follow_leaves_the_job_running(t):
    vm = t.alice.create_box(t.box_name("follow"))
    job = detach(t.alice, vm, "echo started; sleep 3175")
    argv = [t.bin, "box", "jobs", "logs", vm, job, "-f"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=t.alice.env(), start_new_session=True)
    try:
        expect_equal(proc.stdout.readline(), b"started\n", "first line of logs -f")
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    expect_equal(proc.returncode, 130, "logs -f after Ctrl-C")
    expect(host_pids_with_argv(["sleep", "3175"]), "Ctrl-C on logs -f ended the job itself")
    expect_equal(job_doc(t.alice, vm, job).get("state"), "running", "job state after Ctrl-C")
    t.alice.run("box", "jobs", "logs", vm, job).expect_ok().expect_stdout("started\n")
    # A reader that goes away (| head -1) is not an error either.
    many = detach(t.alice, vm, "seq 300000")
    t.alice.run("box", "jobs", "logs", vm, many, "-f").expect_ok()
    piped = subprocess.run(
        ["bash", "-c", 'set -o pipefail; "$0" box jobs logs "$1" "$2" | head -1', t.bin, vm, many],
        stdin=subprocess.DEVNULL, capture_output=True, env=t.alice.env(), timeout=30)
    expect_equal((piped.returncode, piped.stdout), (0, b"1\n"), f"logs | head -1 ({piped.stderr!r})")
    t.alice.run("box", "jobs", "kill", vm, job).expect_ok()


suite.main()
