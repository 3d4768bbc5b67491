// Runs the CLI in-process (run_cli, the real dispatch and exit-code table)
// against a FakeClient (fake_client.hpp), with stdout a "terminal" or a
// "pipe", and returns the exit code, both streams and the calls made.
#pragma once

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

}  // namespace boxd::test
