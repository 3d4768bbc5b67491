"""Box lifecycle: create, list, get, fork, stop/start/reboot, suspend/resume,
destroy (issue 2)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, expect, expect_equal, eventually  # noqa: E402

suite = Suite(__file__)


@suite.test
def create_json_reports_a_running_box(t):
    name = t.box_name("create")
    doc = t.alice.run("box", "create", name, "--json", timeout=60).expect_ok().json()
    t.alice.created.append(name)
    expect(isinstance(doc, dict), f"create --json is not an object: {doc!r}")
    expect_equal(doc.get("name"), name, "name")
    expect_equal(doc.get("status"), "running", "status")
    expect(doc.get("vm_id"), f"create --json has no vm_id: {doc!r}")
    expect(isinstance(doc.get("boot_time_ms"), int),
           f"boot_time_ms must be a JSON number (contract 5): {doc!r}")


@suite.test
def list_json_piped_and_quiet(t):
    name = t.alice.create_box(t.box_name("list"))
    vms = t.alice.run("box", "list", "--json").expect_ok().json()
    expect(isinstance(vms, list), f"list --json is not an array: {vms!r}")
    mine = [vm for vm in vms if vm.get("name") == name]
    expect_equal(len(mine), 1, f"entries named {name} in list --json")
    expect_equal(mine[0].get("status"), "running", "listed status")

    piped = t.alice.run("box", "list").expect_ok()
    rows = [line.split("\t") for line in piped.lines()]
    row = [r for r in rows if r[0] == name]
    expect(row, piped.describe(f"no tab-separated row starting with {name!r} in piped output"))
    expect("running" in row[0], piped.describe("the piped row does not carry the status"))
    expect(all("  " not in line for line in piped.lines()),
           piped.describe("piped output is space-aligned, expected tab-separated"))

    quiet = t.alice.run("box", "list", "-q").expect_ok()
    expect(name in quiet.lines(), quiet.describe(f"-q does not list {name}"))
    expect(all(line in t.alice.created for line in quiet.lines()),
           quiet.describe("-q must print box names only, one per line"))


@suite.test
def get_json_describes_the_box(t):
    name = t.alice.create_box(t.box_name("get"))
    doc = t.alice.get(name)
    expect_equal(doc.get("name"), name, "name")
    expect_equal(doc.get("status"), "running", "status")
    expect("url" in doc, f"box get --json has no url (contract 5): {doc!r}")
    expect(isinstance(doc.get("created_at"), int), f"created_at must be a JSON number: {doc!r}")
    by_id = t.alice.run("box", "get", doc["vm_id"], "--json").expect_ok().json()
    expect_equal(by_id.get("name"), name, "get by id")


@suite.test
def fork_sees_files_written_before_the_fork(t):
    source = t.alice.create_box(t.box_name("src"))
    t.alice.sh(source, "echo before-fork > /home/boxd/forked.txt")
    doc = t.alice.run("box", "fork", source, "--json", timeout=60).expect_ok().json()
    fork = f"{source}-fork"
    t.alice.created.append(fork)
    expect_equal(doc.get("name"), fork, "default fork name")
    expect_equal(doc.get("forked_from"), source, "forked_from")
    expect_equal(doc.get("status"), "running", "fork status")
    t.alice.exec(fork, "cat", "/home/boxd/forked.txt").expect_ok().expect_stdout("before-fork\n")
    # A fork is a copy, not a shared disk.
    t.alice.sh(fork, "echo changed > /home/boxd/forked.txt")
    t.alice.exec(source, "cat", "/home/boxd/forked.txt").expect_ok().expect_stdout("before-fork\n")


@suite.test
def stop_start_reboot_status_follows(t):
    name = t.alice.create_box(t.box_name("power"))
    t.alice.run("box", "stop", name).expect_ok()
    expect_equal(t.alice.status(name), "stopped", "status after stop")
    # exec on a stopped box: boxd's own failure -> 255, with the server's message.
    t.alice.exec(name, "true").expect_exit(255).expect_stderr_contains(f"VM '{name}' is stopped")
    t.alice.run("box", "start", name, timeout=60).expect_ok()
    expect_equal(t.alice.status(name), "running", "status after start")
    t.alice.exec(name, "true").expect_ok()
    t.alice.run("box", "reboot", name, timeout=60).expect_ok()
    eventually(lambda: t.alice.status(name) == "running", 20, what="running after reboot")
    t.alice.exec(name, "true").expect_ok()


@suite.test
def suspend_resume_status_follows(t):
    name = t.alice.create_box(t.box_name("nap"))
    t.alice.run("box", "suspend", name).expect_ok()
    expect_equal(t.alice.status(name), "suspended", "status after suspend")
    t.alice.run("box", "resume", name).expect_ok()
    expect_equal(t.alice.status(name), "running", "status after resume")
    t.alice.exec(name, "echo", "awake").expect_ok().expect_stdout("awake\n")


@suite.test
def destroy_yes_then_get_is_not_found(t):
    name = t.alice.create_box(t.box_name("gone"))
    t.alice.run("box", "destroy", name, "--yes").expect_ok()
    t.alice.created.remove(name)
    t.alice.run("box", "get", name).expect_exit(4).expect_error_line(f"VM '{name}' not found")
    expect(name not in t.alice.list_names(), f"{name} still listed after destroy")
    # The name is reusable after destroy.
    t.alice.create_box(name)


@suite.test
def destroy_without_yes_off_a_terminal_is_a_usage_error(t):
    name = t.alice.create_box(t.box_name("keep"))
    result = t.alice.run("box", "destroy", name).expect_exit(2)
    expect(result.stderr.strip(), result.describe("no message explaining that --yes is needed"))
    expect_equal(t.alice.status(name), "running", "status after a refused destroy")


suite.main()
