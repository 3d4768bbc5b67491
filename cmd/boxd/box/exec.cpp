#include "boxd/box/exec.hpp"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "boxd/box/exec_detach.hpp"
#include "boxd/box/exec_jsonl.hpp"
#include "boxd/box/exec_pty.hpp"
#include "boxd/box/exec_relay.hpp"
#include "boxd/command.hpp"
#include "boxd/exit_codes.hpp"
#include "boxd/output.hpp"
#include "boxd/term/terminal.hpp"
#include "boxd/validators.hpp"
#include "common/error.hpp"
#include "common/shell_quote.hpp"

namespace boxd::cli {

CLI::App* define_box_exec(CLI::App& parent, ExecOptions& options) {
  CLI::App* cmd = parent.add_subcommand("exec", "Run a command in a box");
  cmd->add_option("VM", options.vm, "Box name or id")->required();
  cmd->add_option("COMMAND", options.command,
                  "Command and arguments, after --. One word is run as a shell string; several "
                  "words reach the remote program as exactly that argv. None: a login shell.");
  cmd->add_option_function<std::vector<std::string>>(
         "-e,--env",
         [&options](const std::vector<std::string>& pairs) {
           for (const auto& pair : pairs) {
             options.env.push_back(split_env_pair(pair));
           }
         },
         "Set an environment variable for the command (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false)
      ->check(env_pair_validator());
  cmd->add_option("-w,--workdir", options.workdir, "Working directory for the command")
      ->type_name("DIR");
  cmd->add_option_function<double>(
         "--timeout", [&options](const double& secs) { options.timeout_secs = secs; },
         "Kill the command after S seconds (exit 124)")
      ->type_name("S")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--jsonl", options.jsonl,
                "Stream JSON lines: one per output chunk, then one with the status");
  cmd->add_flag("-n,--no-stdin", options.no_stdin, "Close the command's stdin at once");
  cmd->add_flag("-i,--interactive", options.interactive, "Relay stdin even when it is a terminal");
  cmd->add_option("--tty", options.tty,
                  "PTY: auto (when stdin, stdout and stderr are terminals), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  cmd->add_flag_callback(
      "-t", [&options] { options.tty = "always"; }, "Force a PTY (--tty=always)");
  cmd->add_flag_callback(
      "-T", [&options] { options.tty = "never"; }, "No PTY (--tty=never)");
  cmd->add_option("--escape-char", options.escape_char,
                  "Escape character of PTY sessions (~. ends a hung session); none disables it")
      ->type_name("C");
  cmd->add_flag("-d,--detach", options.detach,
                "Start the command as a job that outlives this call (own session, output to a "
                "log in the box), print its id and return; see 'boxd box jobs'");
  cmd->footer(
      "Exit status: the remote command's; 128+N if it was killed by signal N; 124 when\n"
      "--timeout expired; 130 on Ctrl-C (the remote command is killed); 255 when boxd\n"
      "itself failed. --json prints "
      "{\"stdout\",\"stderr\",\"exit_code\",\"signal\",\"duration_ms\"}.\n"
      "--jsonl prints {\"stream\":\"stdout\"|\"stderr\",\"data\":...} per chunk as it arrives\n"
      "(\"data_base64\" instead of \"data\" when a chunk is not UTF-8), then\n"
      "{\"exit_code\",\"signal\",\"duration_ms\"} (plus \"error\" when boxd failed).\n"
      "--detach prints the job id (--json: {\"id\",\"vm\",\"pid\",\"command\"}) once the job\n"
      "started, and exits with the usual codes (boxd help exit-codes).\n"
      "\n"
      "Examples:\n"
      "  boxd box exec web -- uname -a\n"
      "  boxd box exec web -- 'ls /etc | wc -l'\n"
      "  boxd box exec web -e PORT=8080 -w /srv -- ./server\n"
      "  tar c src | boxd box exec web -- tar x -C /home/boxd\n"
      "  boxd box exec web --timeout 60 --json -- make test\n"
      "  boxd box exec web --jsonl -- make test | jq -r 'select(.stream) | .data'\n"
      "  id=$(boxd box exec --detach web -- make build) && boxd box jobs logs web \"$id\" -f");
  return cmd;
}

namespace {
// The words after `--` are the command, exactly as given.
void take_trailing_command(ExecOptions& options, Context& ctx) {
  if (ctx.trailing_args) {
    options.command.insert(options.command.end(), ctx.trailing_args->begin(),
                           ctx.trailing_args->end());
    ctx.trailing_args_used = true;
  }
}
}  // namespace

void add_box_exec(CLI::App& parent, Context& ctx) {
  add_leaf<ExecOptions>(parent, ctx, define_box_exec, run_exec, take_trailing_command);
}

std::string exec_command_string(const ExecOptions& options) {
  return wrap_command(join_command(options.command), options.env, options.workdir);
}

bool exec_relays_stdin(const ExecOptions& options, bool stdin_tty) {
  if (options.no_stdin) {
    return false;
  }
  return !stdin_tty || options.interactive;
}

std::string signal_name(int n) {
  if (n <= 0 || n >= NSIG) {
    return "";
  }
  const char* abbrev = sigabbrev_np(n);
  if (abbrev == nullptr) {
    return "";
  }
  return std::string("SIG") + abbrev;
}

namespace {

// The remote reports death by signal N as 128+N.
int remote_signal(int exit_code) {
  const int n = exit_code - 128;
  return (n > 0 && n < NSIG && !signal_name(n).empty()) ? n : 0;
}

}  // namespace

namespace {

bool wants_tty(const ExecOptions& options, const Context& ctx) {
  if (options.tty == "always") {
    return true;
  }
  if (options.tty == "never" || options.json || options.jsonl) {
    return false;
  }
  return ctx.stdin_tty && ctx.stdout_tty && ctx.stderr_tty;
}

}  // namespace

namespace {

std::int64_t elapsed_ms(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               started)
      .count();
}

// The status part shared by --json and the last line of --jsonl.
nlohmann::json status_document(int exit_code, std::chrono::steady_clock::time_point started) {
  const int signal = remote_signal(exit_code);
  return {
      {"exit_code", exit_code},
      {"signal", signal != 0 ? nlohmann::json(signal_name(signal)) : nlohmann::json(nullptr)},
      {"duration_ms", elapsed_ms(started)},
  };
}

void check_output_modes(const ExecOptions& options) {
  if (options.json && options.jsonl) {
    throw Error(ErrorClass::Usage, "--json and --jsonl cannot be combined");
  }
  if ((options.json || options.jsonl) && options.tty == "always") {
    throw Error(
        ErrorClass::Usage,
        std::string(options.json ? "--json" : "--jsonl") + " needs split streams, not a PTY",
        "drop -t/--tty=always");
  }
}

client::ExecRequest exec_request(const ExecOptions& options, bool tty, const Context& ctx) {
  client::ExecRequest request;
  request.vm = options.vm;
  request.command = exec_command_string(options);
  if (options.timeout_secs) {
    request.deadline = std::chrono::milliseconds(std::llround(*options.timeout_secs * 1000.0));
  }
  if (tty) {
    request.tty = true;
    auto size = window_size(ctx.out_fd);
    if (!size) {
      size = window_size(ctx.in_fd);
    }
    request.cols = size ? size->cols : 80;
    request.rows = size ? size->rows : 24;
    const char* term = std::getenv("TERM");
    request.term = (term != nullptr && *term != '\0') ? term : "xterm-256color";
  }
  return request;
}

void report_signal(Context& ctx, int exit_code) {
  const int signal = remote_signal(exit_code);
  if (signal != 0) {
    ctx.err << "error: remote command killed by signal " << signal << " (" << signal_name(signal)
            << ")\n";
  }
}

// One exec's output modes and how it ends: --jsonl always ends with a
// status line, also when boxd itself failed.
class ExecRun {
 public:
  ExecRun(const ExecOptions& options, Context& ctx)
      : m_options(options), m_ctx(ctx), m_jsonl(ctx.out_fd) {}

  // With a PTY: raw terminal, the escape sequence, window changes.
  int pty(client::ExecSession& session, std::optional<char> escape) {
    PtyRelayOptions relay;
    relay.escape_char = escape;
    relay.relay_stdin = !m_options.no_stdin;
    relay.stdin_fd = m_ctx.in_fd;
    relay.stdout_fd = m_ctx.out_fd;
    const PtyRelayResult result = relay_pty(session, relay);
    if (result.escaped) {
      m_ctx.err << "boxd: session closed by the escape sequence\n";
      return k_exit_exec_failure;
    }
    report_signal(m_ctx, result.exit_code);
    return result.exit_code;
  }

  // Split streams: to the Context's fds, collected (--json) or as lines (--jsonl).
  int split(client::ExecSession& session) {
    RelayOptions relay;
    relay.relay_stdin = exec_relays_stdin(m_options, m_ctx.stdin_tty);
    relay.collect = m_options.json;
    relay.stdin_fd = m_ctx.in_fd;
    relay.stdout_fd = m_ctx.out_fd;
    relay.stderr_fd = m_ctx.err_fd;
    if (m_options.jsonl) {
      relay.on_output = [this](bool is_stderr, std::string_view data) {
        return m_jsonl.chunk(is_stderr, data);
      };
    }
    const RelayResult result = relay_exec(session, relay);
    if (result.interrupted_by != 0) {
      return fail(128 + result.interrupted_by,
                  "interrupted by " + signal_name(result.interrupted_by));
    }
    if (result.stdout_closed) {
      return 0;
    }
    if (m_options.json) {
      nlohmann::json doc = {{"stdout", result.stdout_data}, {"stderr", result.stderr_data}};
      doc.update(status_document(result.exit_code, m_started));
      const std::string text = dump_json(doc);
      write_all(m_ctx.out_fd, text.data(), text.size());
    } else if (m_options.jsonl) {
      m_jsonl.finish(status_document(result.exit_code, m_started));
    }
    report_signal(m_ctx, result.exit_code);
    return result.exit_code;
  }

  // boxd itself failed: 124 for --timeout, else 255, with the error class named.
  int failed(const Error& e) {
    if (e.error_class() == ErrorClass::Timeout && m_options.timeout_secs) {
      const std::string message =
          fmt::format("command timed out after {} s (TimeoutError)", *m_options.timeout_secs);
      m_ctx.err << "error: " << message << "\n";
      return fail(k_exit_exec_timeout, message);
    }
    const std::string message = fmt::format("{} ({})", e.what(), error_class_name(e.error_class()));
    m_ctx.err << "error: " << message << "\n";
    if (!e.hint().empty()) {
      m_ctx.err << "hint: " << e.hint() << "\n";
    }
    return fail(k_exit_exec_failure, message);
  }

 private:
  int fail(int code, const std::string& message) {
    if (m_options.jsonl) {
      nlohmann::json status = status_document(code, m_started);
      status["error"] = message;
      m_jsonl.finish(status);
    }
    return code;
  }

  const ExecOptions& m_options;
  Context& m_ctx;
  const std::chrono::steady_clock::time_point m_started = std::chrono::steady_clock::now();
  JsonlWriter m_jsonl;
};

}  // namespace

int run_exec(const ExecOptions& options, Context& ctx) {
  if (options.detach) {
    return run_exec_detach(options, ctx);
  }
  ExecRun run(options, ctx);
  check_output_modes(options);
  const std::optional<char> escape = parse_escape_char(options.escape_char);
  const bool tty = wants_tty(options, ctx);
  try {
    std::unique_ptr<client::ExecSession> session =
        ctx.client().exec(exec_request(options, tty, ctx));
    return tty ? run.pty(*session, escape) : run.split(*session);
  } catch (const Error& e) {
    return run.failed(e);
  }
}

}  // namespace boxd::cli
