// The box commands (list, get, create, fork, lifecycle, resize, timeouts)
// run in-process against a FakeClient: what each prints on a terminal, in a
// pipe and with --json, the calls it makes, and how each error class of a
// failed call becomes its exit code. exec, shell, cp, logs, forward, ssh,
// wait and jobs stream or poll a real box: tests/e2e covers them.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <tuple>

#include "boxd/output.hpp"
#include "cli_run.hpp"

using boxd::Error;
using boxd::ErrorClass;
using namespace boxd::test;
using Calls = std::vector<std::string>;

namespace {

std::unique_ptr<FakeClient> two_boxes() {
  auto fake = std::make_unique<FakeClient>();
  api::GetVmResponse web;
  web.set_vm_id("vm-1");
  web.set_name("web");
  web.set_status("running");
  web.set_image_ref("ubuntu");
  web.set_vcpu(2);
  web.set_memory_bytes(8ULL << 30);
  web.set_disk_bytes(20ULL << 30);
  // One instant for the whole run: `box get` prints the absolute time, so
  // two fixtures made across a second boundary must not differ.
  static const auto created = boxd::cli::now_unix_seconds() - 120;
  web.set_created_at(created);
  web.set_access_domain("alice.localhost:9480");
  api::GetVmResponse db;
  db.set_vm_id("vm-2");
  db.set_name("db-long-name");
  db.set_status("stopped");
  db.set_vcpu(4);
  db.set_memory_bytes(16ULL << 30);
  fake->vms = {web, db};
  return fake;
}

nlohmann::json parse(const std::string& text) {
  return nlohmann::json::parse(text);
}

}  // namespace

TEST_CASE("box list: a table on a terminal, tab-separated in a pipe, names with -q, --json") {
  const CliRun table = run_with(two_boxes(), {"--no-color", "box", "list"}, Stdout::Terminal);
  CHECK(table.code == 0);
  CHECK(table.out ==
        "NAME           STATUS    IMAGE    VCPU   MEMORY   CREATED\n"
        "web            running   ubuntu   2      8GiB     2 minutes ago\n"
        "db-long-name   stopped            4      16GiB    \n");
  CHECK(table.err.empty());
  CHECK(table.calls == Calls{"list_vms"});

  const CliRun piped = run_with(two_boxes(), {"box", "list"});
  CHECK(piped.code == 0);
  CHECK(piped.out.rfind("web\trunning\tubuntu\t2\t8589934592\t20", 0) == 0);
  CHECK(piped.out.find("\ndb-long-name\tstopped\t\t4\t17179869184\t\n") != std::string::npos);

  CHECK(run_with(two_boxes(), {"box", "ls", "-q"}, Stdout::Terminal).out == "web\ndb-long-name\n");

  const CliRun json = run_with(two_boxes(), {"box", "list", "--json"}, Stdout::Terminal);
  CHECK(json.code == 0);
  const auto doc = parse(json.out);
  REQUIRE(doc.is_array());
  REQUIRE(doc.size() == 2);
  CHECK(doc[0]["name"] == "web");
  CHECK(doc[0]["memory_bytes"] == (8ULL << 30));
  CHECK(doc[1]["image_ref"] == "");
}

TEST_CASE("box list colours the status on a terminal only") {
  CHECK(run_with(two_boxes(), {"box", "list"}, Stdout::Terminal).out.find("\x1b[32mrunning") !=
        std::string::npos);
  CHECK(run_with(two_boxes(), {"box", "list"}).out.find("\x1b[") == std::string::npos);
}

TEST_CASE("box get: key: value lines, or one JSON object with the url") {
  const CliRun text = run_with(two_boxes(), {"--no-color", "box", "get", "web"}, Stdout::Terminal);
  CHECK(text.code == 0);
  CHECK(text.calls == Calls{"get_vm web"});
  CHECK(text.out.rfind("name:           web\n"
                       "id:             vm-1\n"
                       "status:         running\n"
                       "image:          ubuntu\n"
                       "vcpu:           2\n"
                       "memory:         8GiB\n"
                       "disk:           20GiB\n"
                       "url:            http://web.alice.localhost:9480\n",
                       0) == 0);
  CHECK(text.out.find("auto_suspend:   off\n") != std::string::npos);
  // A pipe gets the same lines (no colour).
  CHECK(run_with(two_boxes(), {"box", "get", "web"}).out == text.out);

  const CliRun json = run_with(two_boxes(), {"box", "get", "vm-2", "--json"});
  CHECK(json.code == 0);
  const auto doc = parse(json.out);
  CHECK(doc["name"] == "db-long-name");
  CHECK(doc["url"] == "");
  CHECK(doc["enforced"].is_null());
}

TEST_CASE("box get of an unknown box: the server's message, exit 4") {
  const CliRun run = run_with(two_boxes(), {"box", "get", "nope"});
  CHECK(run.code == 4);
  CHECK(run.out.empty());
  CHECK(run.err == "error: VM 'nope' not found\n");
}

TEST_CASE("box create prints the name on stdout, the details on stderr; --json the response") {
  auto fake = std::make_unique<FakeClient>();
  fake->created.set_name("web");
  fake->created.set_vm_id("vm-1");
  fake->created.set_status("running");
  const CliRun run = run_with(std::move(fake), {"box", "create", "web"});
  CHECK(run.code == 0);
  CHECK(run.out == "web\n");
  CHECK(run.calls == Calls{"create_vm web"});
  CHECK(run.err == "Created box 'web' (running)\n");

  auto again = std::make_unique<FakeClient>();
  again->created.set_name("web");
  const CliRun json = run_with(std::move(again), {"box", "create", "web", "--json"});
  CHECK(json.code == 0);
  CHECK(parse(json.out)["name"] == "web");
}

TEST_CASE("box fork prints the new name; the source and status go to stderr") {
  auto fake = std::make_unique<FakeClient>();
  fake->forked.set_name("web-fork");
  fake->forked.set_status("running");
  fake->forked.set_boot_time_ms(12);
  const CliRun run = run_with(std::move(fake), {"box", "fork", "web"});
  CHECK(run.code == 0);
  CHECK(run.out == "web-fork\n");
  CHECK(run.err == "Forked 'web' into 'web-fork' (running, booted in 12 ms)\n");
  CHECK(run.calls == Calls{"fork_vm web "});
}

TEST_CASE("start, stop, reboot, destroy: one call per box, a line each on stderr, -q silent") {
  CHECK(run_with(std::make_unique<FakeClient>(), {"box", "start", "a", "b"}).calls ==
        Calls{"start_vm a", "start_vm b"});
  const CliRun stop = run_with(std::make_unique<FakeClient>(), {"box", "stop", "a", "b"});
  CHECK(stop.code == 0);
  CHECK(stop.out.empty());
  CHECK(stop.err == "Stopped box 'a'\nStopped box 'b'\n");
  CHECK(run_with(std::make_unique<FakeClient>(), {"box", "stop", "-q", "a"}).err.empty());
  CHECK(run_with(std::make_unique<FakeClient>(), {"box", "reboot", "a"}).calls ==
        Calls{"reboot_vm a"});
  const CliRun destroy = run_with(std::make_unique<FakeClient>(), {"box", "destroy", "--yes", "a"});
  CHECK(destroy.code == 0);
  CHECK(destroy.err == "Destroyed box 'a'\n");
  CHECK(destroy.calls == Calls{"destroy_vm a"});
}

TEST_CASE("destroy asks on a terminal and reads the answer through the Context") {
  auto ask = [](const std::string& answer) {
    std::ostringstream out;
    std::ostringstream err;
    std::istringstream in(answer);
    boxd::cli::Context ctx(out, err, in);
    ctx.stdin_tty = true;
    auto fake = std::make_unique<FakeClient>();
    FakeClient* client = fake.get();
    ctx.set_client(std::move(fake));
    const char* argv[] = {"boxd", "box", "destroy", "web"};
    const int code = boxd::cli::run_cli(4, argv, ctx);
    return std::make_tuple(code, err.str(), client->calls);
  };
  const auto [yes_code, yes_err, yes_calls] = ask("y\n");
  CHECK(yes_code == 0);
  CHECK(yes_err == "Destroy box 'web'? [y/N] Destroyed box 'web'\n");
  CHECK(yes_calls == Calls{"destroy_vm web"});
  const auto [no_code, no_err, no_calls] = ask("n\n");
  CHECK(no_code == 0);
  CHECK(no_err == "Destroy box 'web'? [y/N] Skipped box 'web'\n");
  CHECK(no_calls.empty());
}

TEST_CASE("suspend, resume, wake: the time on stderr, one JSON line per box with --json") {
  auto fake = std::make_unique<FakeClient>();
  fake->suspended.set_suspend_us(1500);
  const CliRun text = run_with(std::move(fake), {"box", "suspend", "web"});
  CHECK(text.code == 0);
  CHECK(text.out.empty());
  CHECK(text.err == "Suspended box 'web' in 1.5 ms\n");

  auto again = std::make_unique<FakeClient>();
  again->resumed.set_resume_us(2000);
  const CliRun json = run_with(std::move(again), {"box", "resume", "a", "b", "--json"});
  CHECK(json.code == 0);
  CHECK(json.out == "{\"name\":\"a\",\"resume_us\":2000}\n{\"name\":\"b\",\"resume_us\":2000}\n");
  CHECK(json.calls == Calls{"resume_vm a", "resume_vm b"});

  const CliRun wake = run_with(std::make_unique<FakeClient>(), {"box", "wake", "web"});
  CHECK(wake.err == "Woke box 'web'\n");
  CHECK(wake.calls == Calls{"wake_vm web"});
}

TEST_CASE("bulk commands go on after a failure and exit with the first failure's code") {
  auto fake = std::make_unique<FakeClient>();
  fake->fail = Error(ErrorClass::NotFound, "VM 'x' not found");
  const CliRun run = run_with(std::move(fake), {"box", "start", "x", "y"});
  CHECK(run.code == 4);
  CHECK(run.calls == Calls{"start_vm x", "start_vm y"});
  CHECK(run.err == "error: VM 'x' not found\nerror: VM 'x' not found\n");
}

TEST_CASE("resize and the idle timeouts") {
  auto fake = std::make_unique<FakeClient>();
  fake->resized.set_vcpu(4);
  fake->resized.set_memory_bytes(4ULL << 30);
  fake->resized.set_rebooted(true);
  const CliRun resize = run_with(std::move(fake), {"box", "resize", "web", "--vcpu", "4"});
  CHECK(resize.code == 0);
  CHECK(resize.err == "Resized box 'web' to 4 vCPU, 4GiB (rebooted)\n");
  CHECK(resize.calls == Calls{"resize_vm web 4 0"});

  const CliRun nothing = run_with(std::make_unique<FakeClient>(), {"box", "resize", "web"});
  CHECK(nothing.code == 2);
  CHECK(nothing.calls.empty());

  const CliRun suspend =
      run_with(std::make_unique<FakeClient>(), {"box", "set-auto-suspend", "web", "300"});
  CHECK(suspend.code == 0);
  CHECK(suspend.err == "Box 'web' auto-suspends after 300 s idle\n");
  CHECK(suspend.calls == Calls{"set_auto_suspend_timeout web 300"});
  const CliRun json =
      run_with(std::make_unique<FakeClient>(), {"box", "set-auto-hibernate", "web", "0", "--json"});
  CHECK(json.code == 0);
  CHECK(json.out == "{}\n");
  CHECK(json.calls == Calls{"set_auto_hibernate_timeout web 0"});
}

TEST_CASE("every error class of a failed call maps to its exit code, message and hint on stderr") {
  const std::vector<std::vector<std::string>> commands = {
      {"box", "list"},
      {"box", "get", "web"},
      {"box", "create", "web"},
      {"box", "fork", "web"},
      {"box", "start", "web"},
      {"box", "stop", "web"},
      {"box", "reboot", "web"},
      {"box", "destroy", "-y", "web"},
      {"box", "suspend", "web"},
      {"box", "resume", "web"},
      {"box", "wake", "web"},
      {"box", "resize", "web", "--vcpu", "2"},
      {"box", "set-auto-suspend", "web", "60"},
      {"box", "set-auto-hibernate", "web", "60"},
  };
  check_error_classes(commands, two_boxes);
}
