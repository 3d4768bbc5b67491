// Runs the CLI in-process (run_cli, the real dispatch and exit-code table)
// against a FakeClient (fake_client.hpp), with stdout a "terminal" or a
// "pipe", and returns the exit code, both streams and the calls made.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "boxd/context.hpp"
#include "boxd/dispatch.hpp"
#include "fake_client.hpp"

namespace boxd::test {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
  std::vector<std::string> calls;
};

enum class Stdout { Pipe, Terminal };

inline CliRun run_with(std::unique_ptr<FakeClient> fake, const std::vector<std::string>& args,
                       Stdout where = Stdout::Pipe, const std::string& input = {}) {
  std::ostringstream out;
  std::ostringstream err;
  std::istringstream in(input);
  cli::Context ctx(out, err, in);
  ctx.stdout_tty = where == Stdout::Terminal;
  FakeClient* client = fake.get();
  ctx.set_client(std::move(fake));
  std::vector<const char*> argv = {"boxd"};
  for (const auto& arg : args) {
    argv.push_back(arg.c_str());
  }
  CliRun run;
  run.code = cli::run_cli(static_cast<int>(argv.size()), argv.data(), ctx);
  run.out = out.str();
  run.err = err.str();
  run.calls = client->calls;
  return run;
}

// Every error class a call can throw, with the exit code docs/design.md
// (section 5) gives it; written out here, not taken from exit_codes.cpp.
inline const std::vector<std::pair<ErrorClass, int>>& error_exit_codes() {
  static const std::vector<std::pair<ErrorClass, int>> table = {
      {ErrorClass::Internal, 1}, {ErrorClass::Usage, 2},           {ErrorClass::Authentication, 3},
      {ErrorClass::NotFound, 4}, {ErrorClass::InvalidArgument, 5}, {ErrorClass::QuotaExceeded, 6},
      {ErrorClass::Timeout, 7},  {ErrorClass::Connection, 8},      {ErrorClass::Cancelled, 130},
  };
  return table;
}

// Each command of `commands` against a client from `make` that fails every
// call with each error class in turn ("it failed", hint "try this"): the
// class's exit code, nothing on stdout, the message and hint on stderr.
inline void check_error_classes(const std::vector<std::vector<std::string>>& commands,
                                const std::function<std::unique_ptr<FakeClient>()>& make) {
  for (const auto& args : commands) {
    for (const auto& [error_class, code] : error_exit_codes()) {
      std::string command;
      for (const auto& word : args) {
        command += word + " ";
      }
      const int expected = code;
      CAPTURE(command);
      CAPTURE(expected);
      auto fake = make();
      fake->fail = Error(error_class, "it failed", "try this");
      const CliRun run = run_with(std::move(fake), args);
      CHECK(run.code == expected);
      CHECK(run.out.empty());
      CHECK(run.err == "error: it failed\nhint: try this\n");
    }
  }
}

}  // namespace boxd::test
