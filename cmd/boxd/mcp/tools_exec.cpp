// box_exec: one command in a box through the same Exec stream as
// `boxd box exec` (the command string built by wrap_command, the deadline as
// --timeout, a cancel as Ctrl-C: the server kills the command's process
// group). Output goes to the client as progress notifications while it
// arrives (when the client asked for progress) and, capped to its end, in
// the result.
#include <chrono>
#include <cmath>
#include <csignal>
#include <thread>

#include <fmt/format.h>

#include "boxd/box/exec.hpp"
#include "boxd/box/exec_jsonl.hpp"
#include "boxd/mcp/tool.hpp"
#include "common/error.hpp"
#include "common/names.hpp"
#include "common/shell_quote.hpp"

namespace boxd::cli::mcp {

namespace {

constexpr std::size_t k_stdin_chunk = 1024 * 1024;

// One output stream: its end (at most 2x the cap in memory), its size, and
// the bytes of a character cut by a chunk boundary (for progress text).
struct StreamTail {
  std::string data;
  std::uint64_t total = 0;
  std::string held;

  void add(std::string_view chunk, std::size_t max) {
    total += chunk.size();
    data.append(chunk);
    if (data.size() > 2 * max) {
      data.erase(0, data.size() - max);
    }
  }
  // The chunk as text for a progress message: a character cut in two at the
  // chunk's end waits for the next chunk.
  std::string text(std::string_view chunk) {
    std::string out = held + std::string(chunk);
    const std::size_t tail = incomplete_utf8_tail(out);
    held = out.substr(out.size() - tail);
    out.resize(out.size() - tail);
    return out;
  }
};

std::vector<std::pair<std::string, std::string>> env_arg(const json& args) {
  std::vector<std::pair<std::string, std::string>> env;
  const auto it = args.find("env");
  if (it == args.end() || it->is_null()) {
    return env;
  }
  if (!it->is_object()) {
    throw Error(ErrorClass::Usage, "'env' must be an object of strings");
  }
  for (const auto& [key, value] : it->items()) {
    if (!value.is_string() || !is_valid_env_name(key)) {
      throw Error(ErrorClass::Usage,
                  "'env' must map variable names ([A-Za-z_][A-Za-z0-9_]*) to strings");
    }
    env.emplace_back(key, value.get<std::string>());
  }
  return env;
}

client::ExecRequest exec_request(ToolContext& t, const std::string& box) {
  client::ExecRequest request;
  request.vm = box;
  request.command = wrap_command(arg_string(t.args, "command", true), env_arg(t.args),
                                 arg_string(t.args, "workdir"));
  const double timeout = arg_number(t.args, "timeout").value_or(t.limits.exec_timeout_secs);
  if (timeout < 0) {
    throw Error(ErrorClass::Usage, "'timeout' must be 0 (none) or a number of seconds");
  }
  if (timeout > 0) {
    request.deadline = std::chrono::milliseconds(std::llround(timeout * 1000.0));
  }
  return request;
}

void feed_stdin(client::ExecSession& session, const std::string& input) {
  for (std::size_t at = 0; at < input.size(); at += k_stdin_chunk) {
    if (!session.write_stdin(input.substr(at, k_stdin_chunk))) {
      return;
    }
  }
  session.close_stdin();
}

struct ExecOutcome {
  int exit_code = 0;
  bool timed_out = false;
  StreamTail out, err;
};

// Reads the stream to its end; the stdin writer runs beside it.
void pump(ToolContext& t, client::ExecSession& session, ExecOutcome& outcome) {
  api::v1::ExecChunk chunk;
  while (session.read(chunk)) {
    if (chunk.exit_code() != 0) {
      outcome.exit_code = chunk.exit_code();
    }
    if (chunk.data().empty() || chunk.stdin() || chunk.window_change()) {
      continue;
    }
    StreamTail& stream = chunk.is_stderr() ? outcome.err : outcome.out;
    stream.add(chunk.data(), t.limits.max_output);
    if (t.progress) {
      const std::string text = stream.text(chunk.data());
      t.progress(static_cast<double>(outcome.out.total + outcome.err.total),
                 cap_tail(text, t.limits.max_output).data);
    }
  }
  session.finish();
}

void run_session(ToolContext& t, client::ExecSession& session, ExecOutcome& outcome) {
  const std::string input = arg_string(t.args, "stdin");
  std::thread writer([&session, &input] { feed_stdin(session, input); });
  t.call.attach(&session);
  try {
    pump(t, session, outcome);
  } catch (const Error& e) {
    if (e.error_class() != ErrorClass::Timeout || t.call.cancelled()) {
      t.call.attach(nullptr);
      session.cancel();
      writer.join();
      throw;
    }
    outcome.timed_out = true;
    outcome.exit_code = 124;
  }
  t.call.attach(nullptr);
  session.cancel();  // a stdin write still blocked on the finished call returns
  writer.join();
}

json run_exec(ToolContext& t) {
  const auto started = std::chrono::steady_clock::now();
  const std::string box = t.policy.resolve(t.client, arg_string(t.args, "box", true));
  const client::ExecRequest request = exec_request(t, box);
  ExecOutcome outcome;
  run_session(t, *t.client.exec(request), outcome);
  if (t.call.cancelled()) {
    throw Error(ErrorClass::Cancelled, "cancelled");
  }
  const std::size_t max = t.limits.max_output;
  Capped out = cap_tail(std::move(outcome.out.data), max);
  Capped err = cap_tail(std::move(outcome.err.data), max);
  const int n = outcome.exit_code - 128;
  const std::string signal = (n > 0 && n < NSIG) ? signal_name(n) : "";
  return {
      {"box", box},
      {"exit_code", outcome.exit_code},
      {"signal", signal.empty() ? json(nullptr) : json(signal)},
      {"timed_out", outcome.timed_out},
      {"stdout", out.data},
      {"stderr", err.data},
      {"stdout_bytes", outcome.out.total},
      {"stderr_bytes", outcome.err.total},
      {"truncated", outcome.out.total > out.data.size() || outcome.err.total > err.data.size()},
      {"output_limit_bytes", max},
      {"duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count()},
  };
}

json exec_input_schema() {
  return schema_object(
      {{"box", schema_string("Box name or id")},
       {"command", schema_string("Shell command, run by /bin/sh -c as the box's user in its home")},
       {"stdin", schema_string("Text fed to the command's standard input (then closed)")},
       {"env",
        {{"type", "object"},
         {"description", "Environment variables for the command"},
         {"additionalProperties", {{"type", "string"}}}}},
       {"workdir", schema_string("Directory to run in (default: the home directory)")},
       {"timeout",
        {{"type", "number"},
         {"minimum", 0},
         {"description",
          "Kill the command after this many seconds (exit_code 124, "
          "timed_out true); 0 = no limit; default: the server's"}}}},
      {"box", "command"});
}

json exec_output_schema() {
  return schema_object(
      {{"box", schema_string("")},
       {"exit_code", schema_integer("The command's exit status; 128+N when killed by signal N; "
                                    "124 on timeout")},
       {"signal",
        {{"type", {"string", "null"}}, {"description", "SIGKILL, ... when killed by one"}}},
       {"timed_out", schema_boolean("")},
       {"stdout", schema_string("Standard output (its end when truncated)")},
       {"stderr", schema_string("Standard error (its end when truncated)")},
       {"stdout_bytes", schema_integer("Size of the whole standard output")},
       {"stderr_bytes", schema_integer("Size of the whole standard error")},
       {"truncated", schema_boolean("True when stdout or stderr was cut to its last "
                                    "output_limit_bytes")},
       {"output_limit_bytes", schema_integer("The cap on each of stdout and stderr")},
       {"duration_ms", schema_integer("")}},
      {"box", "exit_code", "timed_out", "stdout", "stderr", "truncated", "output_limit_bytes"});
}

}  // namespace

void add_exec_tool(std::vector<Tool>& tools) {
  tools.push_back({"box_exec", "Run a command in a box",
                   "Run a shell command in a box and wait for it: stdout, stderr and exit code. A "
                   "non-zero exit code is a result, not an error. Output longer than "
                   "output_limit_bytes keeps its end (truncated: true). With a progress token, "
                   "output is also sent as progress notifications as it arrives; cancelling the "
                   "request kills the command.",
                   exec_input_schema(), exec_output_schema(), false, true, false, run_exec});
}

}  // namespace boxd::cli::mcp
