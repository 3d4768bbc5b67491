// The one exit-code table (docs/design.md, section 5) and how run_cli applies it, without a
// network: usage errors are found before any call is made.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "boxd/context.hpp"
#include "boxd/dispatch.hpp"
#include "boxd/exit_codes.hpp"
#include "common/version.hpp"

using namespace boxd;
using namespace boxd::cli;

namespace {

struct Run {
  int code;
  std::string out;
  std::string err;
};

Run run(std::vector<std::string> args) {
  std::ostringstream out;
  std::ostringstream err;
  Context ctx(out, err);
  std::vector<const char*> argv = {"boxd"};
  for (const auto& arg : args) {
    argv.push_back(arg.c_str());
  }
  const int code = run_cli(static_cast<int>(argv.size()), argv.data(), ctx);
  return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("error classes map to the documented exit codes") {
  CHECK(exit_code_for(ErrorClass::Internal) == 1);
  CHECK(exit_code_for(ErrorClass::Usage) == 2);
  CHECK(exit_code_for(ErrorClass::Authentication) == 3);
  CHECK(exit_code_for(ErrorClass::NotFound) == 4);
  CHECK(exit_code_for(ErrorClass::InvalidArgument) == 5);
  CHECK(exit_code_for(ErrorClass::QuotaExceeded) == 6);
  CHECK(exit_code_for(ErrorClass::Timeout) == 7);
  CHECK(exit_code_for(ErrorClass::Connection) == 8);
  CHECK(exit_code_for(ErrorClass::Cancelled) == 130);
}

TEST_CASE("a bad box name is exit 2 with error: and the command's usage on stderr") {
  const Run r = run({"box", "create", "Bad_Name"});
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("error: ", 0) == 0);
  CHECK(r.err.find("Usage:") != std::string::npos);
  CHECK(r.err.find("create") != std::string::npos);
}

TEST_CASE("a bad size and an unknown flag are exit 2") {
  CHECK(run({"box", "create", "web", "--memory", "4X"}).code == 2);
  const Run r = run({"box", "list", "--no-such-flag"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--no-such-flag") != std::string::npos);
  CHECK(run({"box", "no-such-command"}).code == 2);
}

TEST_CASE("a group without a subcommand prints its help on stderr, exit 2") {
  const Run r = run({"box"});
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.find("create") != std::string::npos);
}

TEST_CASE("--help goes to stdout with exit 0, for the chosen subcommand") {
  const Run r = run({"box", "exec", "--help"});
  CHECK(r.code == 0);
  CHECK(r.out.find("Examples:") != std::string::npos);
  CHECK(r.out.find("--timeout") != std::string::npos);
  CHECK(r.err.empty());
}

TEST_CASE("version needs no network and no config") {
  Run r = run({"version"});
  CHECK(r.code == 0);
  CHECK(r.out == std::string("boxd ") + k_version + "\n");
  r = run({"version", "--json"});
  CHECK(r.out.find("\"version\": \"" + std::string(k_version) + "\"") != std::string::npos);
  r = run({"--version"});
  CHECK(r.code == 0);
  CHECK(r.out == std::string("boxd ") + k_version + "\n");
}

TEST_CASE("destroy without --yes off a terminal is refused before any call") {
  const Run r = run({"box", "destroy", "web"});
  CHECK(r.code == 2);
  CHECK(r.err == "error: refusing to destroy without --yes (stdin is not a terminal)\n");
}

TEST_CASE("--api-key on argv warns that it is visible") {
  const Run r = run({"--api-key", "bxd_secret", "version"});
  CHECK(r.code == 0);
  CHECK(r.err.find("warning: --api-key is visible to other users in the process list") !=
        std::string::npos);
  CHECK(r.err.find("bxd_secret") == std::string::npos);
}

TEST_CASE("words after -- are kept verbatim and never parsed") {
  const char* argv[] = {"boxd", "box", "exec", "vm", "--", "printf", "[%s]", "", "--help", "--"};
  const SplitArgs split = split_trailing_args(10, argv);
  CHECK(split.parsed.size() == 4);
  REQUIRE(split.trailing.has_value());
  CHECK(*split.trailing == std::vector<std::string>{"printf", "[%s]", "", "--help", "--"});
  const char* plain[] = {"boxd", "box", "list"};
  CHECK_FALSE(split_trailing_args(3, plain).trailing.has_value());
}

TEST_CASE("words after -- for a command that takes none are a usage error") {
  CHECK(run({"box", "list", "--", "extra"}).code == 2);
  CHECK(run({"version", "--"}).code == 0);
}
