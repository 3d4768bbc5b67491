// argv -> options for the CLI's leaf commands, with no network: each test
// builds the one subcommand on its own CLI::App and parses a command line.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/box/create.hpp"
#include "boxd/box/destroy.hpp"
#include "boxd/box/exec.hpp"
#include "boxd/box/fork.hpp"
#include "boxd/box/stop.hpp"
#include "boxd/local/serve_flags.hpp"
#include "local/server.hpp"

using namespace boxd::cli;

namespace {

template <class Options>
Options parse(CLI::App* (*define)(CLI::App&, Options&), std::vector<std::string> args) {
  CLI::App app;
  app.fallthrough();
  Options options;
  define(app, options);
  std::vector<const char*> argv = {"boxd"};
  for (const auto& arg : args) {
    argv.push_back(arg.c_str());
  }
  app.parse(static_cast<int>(argv.size()), argv.data());
  return options;
}

}  // namespace

TEST_CASE("box create parses name, sizes, env and timeouts") {
  const auto o = parse(define_box_create,
                       {"create", "web", "--memory", "4G", "--env", "A=1", "--env", "B=x=y",
                        "--vcpu", "2", "--image", "ubuntu:24.04", "--restart-policy", "always",
                        "--auto-suspend-timeout", "0", "--auto-destroy-timeout", "3600"});
  CHECK(o.name == "web");
  CHECK(o.memory_bytes == 4ULL * 1024 * 1024 * 1024);
  REQUIRE(o.env.size() == 2);
  CHECK(o.env[0] == std::pair<std::string, std::string>{"A", "1"});
  CHECK(o.env[1] == std::pair<std::string, std::string>{"B", "x=y"});
  CHECK(o.vcpu == 2);
  CHECK(o.image == "ubuntu:24.04");
  CHECK(o.restart_policy == "always");
  REQUIRE(o.auto_suspend_timeout_secs.has_value());
  CHECK(*o.auto_suspend_timeout_secs == 0);
  CHECK(o.auto_destroy_timeout_secs == std::optional<std::uint32_t>(3600));

  const auto request = create_request(o);
  CHECK(request.name() == "web");
  CHECK(request.config().memory_bytes() == 4ULL * 1024 * 1024 * 1024);
  CHECK(request.config().srf().has_auto_suspend_timeout_secs());
  CHECK(request.env_size() == 2);
}

TEST_CASE("box create without a name leaves the choice to the server") {
  const auto o = parse(define_box_create, {"create"});
  CHECK(o.name.empty());
  CHECK_FALSE(create_request(o).config().srf().has_auto_suspend_timeout_secs());
}

TEST_CASE("--env does not swallow the positional name") {
  const auto o = parse(define_box_create, {"create", "--env", "A=1", "web"});
  CHECK(o.name == "web");
  CHECK(o.env.size() == 1);
}

TEST_CASE("bad names, sizes, env names and policies are usage errors") {
  for (const char* bad : {"Bad_Name", "-leading", "trailing-", "dots.are.out"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse(define_box_create, {"create", bad}), CLI::ParseError);
  }
  CHECK_THROWS_AS(parse(define_box_create, {"create", std::string(64, 'a')}), CLI::ParseError);
  for (const char* bad : {"4X", "lots", "-1G", "1.5.5G"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse(define_box_create, {"create", "web", "--memory", bad}), CLI::ParseError);
  }
  CHECK_THROWS_AS(parse(define_box_create, {"create", "web", "--env", "1A=x"}), CLI::ParseError);
  CHECK_THROWS_AS(parse(define_box_create, {"create", "web", "--env", "NOEQUALS"}),
                  CLI::ParseError);
  CHECK_THROWS_AS(parse(define_box_create, {"create", "web", "--restart-policy", "sometimes"}),
                  CLI::ParseError);
  CHECK_THROWS_AS(parse(define_box_fork, {"fork", "src", "Bad_Name"}), CLI::ParseError);
}

TEST_CASE("bulk commands take several names") {
  const auto o = parse(define_box_stop, {"stop", "a", "b", "c"});
  CHECK(o.names == std::vector<std::string>{"a", "b", "c"});
  CHECK_THROWS_AS(parse(define_box_stop, {"stop"}), CLI::ParseError);
  const auto d = parse(define_box_destroy, {"destroy", "-y", "a"});
  CHECK(d.yes);
  CHECK(d.names == std::vector<std::string>{"a"});
}

TEST_CASE("box exec: options before --, the command after it, quoted as argv") {
  const auto o =
      parse(define_box_exec, {"exec", "vm", "-e", "GREETING=hello world", "-w", "/srv", "--timeout",
                              "1.5", "-n", "--", "printf", "%s\\n", "a b", "-n"});
  CHECK(o.vm == "vm");
  CHECK(o.no_stdin);
  CHECK_FALSE(o.interactive);
  CHECK(o.workdir == "/srv");
  CHECK(o.timeout_secs == std::optional<double>(1.5));
  CHECK(o.command == std::vector<std::string>{"printf", "%s\\n", "a b", "-n"});
  CHECK(exec_command_string(o) ==
        "export GREETING='hello world'; cd /srv || exit 1; printf '%s\\n' 'a b' -n");
}

TEST_CASE("box exec: one word is a shell string; no words a login shell") {
  auto o = parse(define_box_exec, {"exec", "vm", "--", "ls | wc -l"});
  CHECK(exec_command_string(o) == "ls | wc -l");
  o = parse(define_box_exec, {"exec", "vm"});
  CHECK(exec_command_string(o).empty());
}

TEST_CASE("box exec: invalid -e name is a usage error") {
  CHECK_THROWS_AS(parse(define_box_exec, {"exec", "vm", "-e", "A-B=1", "--", "true"}),
                  CLI::ParseError);
  CHECK_THROWS_AS(parse(define_box_exec, {"exec", "vm", "--timeout", "-1", "--", "true"}),
                  CLI::ParseError);
}

TEST_CASE("box exec relays stdin when piped or with -i, never with -n") {
  ExecOptions o;
  CHECK(exec_relays_stdin(o, false));
  CHECK_FALSE(exec_relays_stdin(o, true));
  o.interactive = true;
  CHECK(exec_relays_stdin(o, true));
  o.no_stdin = true;
  CHECK_FALSE(exec_relays_stdin(o, false));
  CHECK_FALSE(exec_relays_stdin(o, true));
}

TEST_CASE("signal names") {
  CHECK(signal_name(9) == "SIGKILL");
  CHECK(signal_name(15) == "SIGTERM");
  CHECK(signal_name(0).empty());
}

TEST_CASE("local serve: one key per --api-key (the words after it are not keys)") {
  auto parse_serve = [](std::vector<std::string> args) {
    CLI::App app;
    boxd::local::ServeOptions options;
    add_serve_flags(app, options);
    std::vector<const char*> argv = {"serve"};
    for (const auto& arg : args) {
      argv.push_back(arg.c_str());
    }
    app.parse(static_cast<int>(argv.size()), argv.data());
    return options.api_keys;
  };
  CHECK(parse_serve({"--api-key", "k1=alice", "--api-key", "k2=bob"}) ==
        std::vector<std::string>{"k1=alice", "k2=bob"});
  // Only the value right after each flag is wiped from the process's argv
  // (secret_args.hpp): a second key taken by the same flag would stay there.
  CHECK_THROWS_AS(parse_serve({"--api-key", "k1=alice", "k2=bob"}), CLI::ParseError);
  CHECK_THROWS_AS(parse_serve({"--api-key", "k1=alice", "--", "--api-key", "k2=bob"}),
                  CLI::ParseError);
}
